// spf_stage_test.cpp - the spf stage through FakeResolver: each result's action and exact reply
// (RFC 7372 codes), the HELO identity, the null sender, Received-SPF and the
// Authentication-Results entries, and configuration errors.
#include "stages/spf/spf_stage.h"

#include <gtest/gtest.h>

#include <thread>

#include "stage_test_support.h"

namespace mxguard::testing {
namespace {

using dns::RrType;

struct SpfStageTest : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
  Connection tx = clientTx("192.0.2.10", "mail.client.example.org");

  Findings run(const std::string& sender, const std::string& config = "") {
    auto stage = buildStage("spf", config, dns);
    tx.message.senderSeen = true;
    tx.message.sender = sender;
    return stage->onMail(tx);
  }
  std::string header(const std::string& name) const {
    for (const auto& h : tx.message.addedHeaders)
      if (h.name == name) return h.value;
    return "(none)";
  }
};

TEST_F(SpfStageTest, PassRecordsResultAndHeader) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 ip4:192.0.2.0/24 -all"});
  auto d = run("alice@example.org");
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->reason, "spf.pass");
  EXPECT_EQ(d->detail,
            "mailfrom alice@example.org: pass (record \"v=spf1 ip4:192.0.2.0/24 -all\")");
  EXPECT_EQ(header("Received-SPF"),
            "pass (mx.example.net: domain of alice@example.org designates 192.0.2.10 as permitted "
            "sender)\n\tclient-ip=192.0.2.10; envelope-from=\"alice@example.org\"; "
            "helo=\"mail.client.example.org\"; receiver=mx.example.net; identity=mailfrom;");
  ASSERT_EQ(tx.message.authResults.size(), 1u);  // the HELO had no record: not reported
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", tx.message.authResults),
            "mx.example.net;\n\tspf=pass smtp.mailfrom=alice@example.org");
}

TEST_F(SpfStageTest, FailIsRejectedWithExplanation) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 ip4:198.51.100.1 -all exp=why.example.org"})
      .answer("why.example.org", RrType::TXT, {"%{i} is not one of %{d}'s mail servers"});
  auto d = run("alice@example.org");
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_EQ(d->reason, "spf.fail");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.23 <alice@example.org>: Sender address rejected: SPF fail: example.org does "
            "not designate 192.0.2.10 as a permitted sender; the domain says: 192.0.2.10 is not "
            "one of example.org's mail servers\r\n");
}

TEST_F(SpfStageTest, FailWithoutExpHasNoExplanation) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 -all"});
  auto d = run("alice@example.org");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.23 <alice@example.org>: Sender address rejected: SPF fail: example.org does "
            "not designate 192.0.2.10 as a permitted sender\r\n");
}

TEST_F(SpfStageTest, HostileExplanationIsSanitised) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 -all exp=why.example.org"})
      .answer("why.example.org", RrType::TXT, {"go%_away%%20now"});
  auto d = run("alice@example.org");
  ASSERT_TRUE(d->reply);
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.23 <alice@example.org>: Sender address rejected: SPF fail: example.org does "
            "not designate 192.0.2.10 as a permitted sender; the domain says: go away%20now\r\n");
  EXPECT_EQ(d->reply->milterLines().back().find("%%20") != std::string::npos, true);
}

TEST_F(SpfStageTest, SoftfailAcceptedByDefaultAndRejectable) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 ~all"});
  EXPECT_EQ(run("alice@example.org")->action, Action::Pass);
  EXPECT_EQ(header("Received-SPF").substr(0, 9), "softfail ");
  tx.message = {};
  auto d = run("alice@example.org", "softfail = reject\n");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.23 <alice@example.org>: Sender address rejected: SPF softfail: example.org "
            "does not designate 192.0.2.10 as a permitted sender\r\n");
}

TEST_F(SpfStageTest, TemperrorIs451DependencyFailure) {
  dns->timeout("example.org", RrType::TXT);
  auto d = run("alice@example.org");
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "spf.temperror");
  EXPECT_EQ(d->reply->toSmtp(),
            "451 4.7.24 <alice@example.org>: Sender address rejected: SPF temperror: DNS lookup "
            "for example.org failed (TXT example.org: timed out after 5000 ms); try again "
            "later\r\n");
}

// [engine] dns_budget: a spent budget is a temperror that names it; the HELO result is not
// kept for the connection, so the next message (budget restarted) evaluates it again.
TEST_F(SpfStageTest, SpentDnsBudgetIsATemperrorThatIsNotKept) {
  dns->answer("mail.client.example.org", RrType::TXT, {"v=spf1 ip4:192.0.2.10 -all"});
  tx.dnsBudget.setLimit(std::chrono::milliseconds(100));
  tx.dnsBudget.charge(std::chrono::milliseconds(100));
  auto stage = buildStage("spf", "", dns);
  tx.message.senderSeen = true;
  auto d = stage->onMail(tx);
  EXPECT_EQ(d->reason, "spf.temperror");
  EXPECT_EQ(d->reply->toSmtp(),
            "451 4.7.24 <>: Sender address rejected: SPF temperror: DNS lookup for "
            "mail.client.example.org failed (TXT mail.client.example.org: SPF evaluation deadline "
            "(DNS budget of 100 ms for this message spent)); try again later\r\n");
  tx.dnsBudget.restart();
  tx.message = {};
  tx.message.senderSeen = true;
  d = stage->onMail(tx);
  EXPECT_EQ(d->reason, "spf.pass");
}

TEST_F(SpfStageTest, PermerrorAcceptedByDefaultRejectedWith5724) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 ip4:192.0.2.300 -all"});
  auto d = run("alice@example.org");
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->reason, "spf.permerror");
  tx.message = {};
  d = run("alice@example.org", "permerror = reject\n");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.24 <alice@example.org>: Sender address rejected: SPF permerror: the SPF "
            "record of example.org is invalid (invalid SPF record at example.org: invalid address "
            "in 'ip4:192.0.2.300')\r\n");
}

TEST_F(SpfStageTest, TwoRecordsArePermerror) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 -all", "v=spf1 +all"});
  auto d = run("alice@example.org", "permerror = reject\n");
  EXPECT_EQ(d->reply->text(),
            "<alice@example.org>: Sender address rejected: SPF permerror: the SPF record of "
            "example.org is invalid (more than one SPF record at example.org (RFC 7208 4.5))");
}

TEST_F(SpfStageTest, NullSenderChecksPostmasterAtHelo) {
  dns->answer("mail.client.example.org", RrType::TXT, {"v=spf1 -all"});
  auto d = run("");
  EXPECT_EQ(d->reason, "spf.fail");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.23 <>: Sender address rejected: SPF fail: mail.client.example.org does not "
            "designate 192.0.2.10 as a permitted sender\r\n");
  EXPECT_EQ(d->detail, "helo postmaster@mail.client.example.org: fail (record \"v=spf1 -all\")");
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", tx.message.authResults),
            "mx.example.net;\n\tspf=fail smtp.helo=mail.client.example.org");
}

TEST_F(SpfStageTest, HeloFailDecidesBeforeMailFrom) {
  dns->answer("mail.client.example.org", RrType::TXT, {"v=spf1 -all"})
      .answer("example.org", RrType::TXT, {"v=spf1 +all"});
  auto d = run("alice@example.org");
  EXPECT_EQ(d->reason, "spf.fail");
  EXPECT_EQ(d->detail, "helo postmaster@mail.client.example.org: fail (record \"v=spf1 -all\")");
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", tx.message.authResults),
            "mx.example.net;\n\tspf=fail smtp.helo=mail.client.example.org;\n\tspf=pass "
            "smtp.mailfrom=alice@example.org");
  tx.message = {};
  EXPECT_EQ(run("alice@example.org", "check_helo = no\n")->reason, "spf.pass");
}

TEST_F(SpfStageTest, HeloLiteralHasNoSpf) {
  tx.client.helo = "[192.0.2.10]";
  auto d = run("");
  EXPECT_EQ(d->reason, "spf.none");
  EXPECT_EQ(d->detail, "helo postmaster@[192.0.2.10]: none; the HELO name is not a domain name");
}

// Issue 28: names with CR/LF went to the resolver. A domain with a control byte is malformed:
// none (RFC 7208 4.3), and no query is made for it, nor for a name a macro builds from one.
bool anyControlByte(const std::vector<dns::Query>& queries) {
  for (const auto& q : queries)
    for (unsigned char c : q.name)
      if (c < 0x20 || c == 0x7f) return true;
  return false;
}

TEST_F(SpfStageTest, ControlBytesInADomainAreMalformedAndNeverQueried) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 -all"});
  auto d = run("alice@exam\r\nple.org", "check_helo = no\n");
  EXPECT_EQ(d->reason, "spf.none");
  EXPECT_EQ(d->detail,
            "mailfrom alice@exam??ple.org: none; the domain is malformed (character 0x0D; RFC "
            "7208 4.3)");
  tx.message = {};
  tx.client.helo = "mail\r\n.client.example.org";
  auto h = run("");
  EXPECT_EQ(h->reason, "spf.none");
  EXPECT_EQ(h->detail,
            "helo postmaster@mail??.client.example.org: none; the domain is malformed (character "
            "0x0D; RFC 7208 4.3)");
  tx.message = {};
  EXPECT_EQ(run(std::string("bob@example.org\0.evil", 21), "check_helo = no\n")->reason,
            "spf.none");
  EXPECT_FALSE(anyControlByte(dns->queries()));
}

TEST_F(SpfStageTest, MacrosNeverQueryANameWithControlBytes) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 exists:%{l}.x.example.org -all"});
  auto d = run("a\rb@example.org", "check_helo = no\n");
  EXPECT_EQ(d->reason, "spf.fail");
  EXPECT_FALSE(anyControlByte(dns->queries()));
}

TEST_F(SpfStageTest, VoidLookupLimit) {
  dns->answer("example.org", RrType::TXT,
              {"v=spf1 a:n1.example.org a:n2.example.org a:n3.example.org +all"});
  auto d = run("alice@example.org", "permerror = reject\n");
  EXPECT_EQ(d->reason, "spf.permerror");
  EXPECT_EQ(d->reply->text(),
            "<alice@example.org>: Sender address rejected: SPF permerror: the SPF record of "
            "example.org is invalid (more than 2 DNS lookups returned no records (RFC 7208 "
            "4.6.4))");
}

TEST_F(SpfStageTest, Ipv6ClientAndIncludes) {
  tx = clientTx("2001:db8::25", "mail.client.example.org");
  dns->answer("example.org", RrType::TXT, {"v=spf1 include:_spf.example.org -all"})
      .answer("_spf.example.org", RrType::TXT, {"v=spf1 ip6:2001:db8::/32 -all"});
  EXPECT_EQ(run("alice@example.org")->reason, "spf.pass");
}

TEST_F(SpfStageTest, ExplanationWithControlBytesIsDropped) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 -all exp=why.example.org"})
      .answer("why.example.org", RrType::TXT, {"bad\r\n250 2.0.0 Ok %s"});
  auto d = run("alice@example.org");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.23 <alice@example.org>: Sender address rejected: SPF fail: example.org does "
            "not designate 192.0.2.10 as a permitted sender\r\n");
}

TEST_F(SpfStageTest, HostileRecordsArePermerrors) {
  const std::pair<std::string, std::string> cases[] = {
      {std::string("v=spf1 a:x.example.org\0 -all", 28), "control or non-ASCII character"},
      {"v=spf1 ip4:192.0.2.10 \xc3\xa9 -all", "control or non-ASCII character"},
      {"v=spf1 " + std::string(5000, 'a') + " -all", "unknown mechanism"},
      {"v=spf1 redirect=a.example.org redirect=b.example.org", "more than one redirect="},
      {"v=spf1 a:%{z}.example.org -all", "invalid macro letter 'z'"},
      {"v=spf1 exists:%{i -all", "unterminated macro"},
      {"v=spf1 mx:example.123 -all", "invalid top-level label"},
  };
  for (const auto& [record, problem] : cases) {
    tx.message = {};
    dns->answer("example.org", RrType::TXT, {record});
    auto d = run("alice@example.org", "permerror = reject\n");
    ASSERT_TRUE(d && d->reply) << record.substr(0, 60);
    EXPECT_EQ(d->reason, "spf.permerror") << record.substr(0, 60);
    EXPECT_NE(d->reply->text().find(problem), std::string::npos) << d->reply->text();
    EXPECT_LE(d->reply->toSmtp().size(), 3 * 512u);
  }
}

TEST_F(SpfStageTest, ConcurrentEvaluationsShareOneEvaluator) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 include:_i.example.org -all"})
      .answer("_i.example.org", RrType::TXT, {"v=spf1 ip4:192.0.2.0/25 ~all"});
  auto stage = buildStage("spf", "", dns);
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto mine = clientTx(t % 2 ? "192.0.2.10" : "192.0.2.200", "mail.client.example.org");
        mine.message.sender = "alice@example.org";
        auto d = stage->onMail(mine);
        if (d && d->reason == (t % 2 ? "spf.pass" : "spf.fail")) ++right;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(right.load(), 400);
}

TEST_F(SpfStageTest, LoopbackClientIsNoneNotLibspf2sFreePass) {
  dns->answer("example.org", RrType::TXT, {"v=spf1 -all"});
  for (const char* ip : {"127.0.0.1", "::1"}) {
    tx = clientTx(ip, "localhost.example.org");
    auto d = run("alice@example.org");
    EXPECT_EQ(d->reason, "spf.none") << ip;
    EXPECT_EQ(d->detail,
              "mailfrom alice@example.org: none; loopback client: SPF does not apply to local "
              "submission")
        << ip;
  }
}

TEST_F(SpfStageTest, ConfigErrors) {
  EXPECT_EQ(configError("spf", "temperror = reject\n"),
            "test.conf:2: spf.temperror: a temperror cannot be rejected (use tempfail or accept)");
  EXPECT_EQ(configError("spf", "fail = bounce\n"),
            "test.conf:2: spf.fail: invalid value 'bounce' (use accept, reject or tempfail)");
  EXPECT_EQ(
      configError("spf", "reply_temperror = 550 5.7.24 no\n"),
      "test.conf:2: spf.reply_temperror: temperror can only be deferred with a 4xx reply, not "
      "550 (a DNS failure is never a 5xx)");
  EXPECT_EQ(configError("spf", "reply_fail = 550 5.7.23 ${nonsense}\n"),
            "test.conf:2: spf.reply_fail: unknown variable ${nonsense}; known variables: "
            "client_address, client_name, helo_name, sender, spf_checked, spf_domain, "
            "spf_explanation, spf_identity, spf_problem, spf_record, spf_result");
}

}  // namespace
}  // namespace mxguard::testing
