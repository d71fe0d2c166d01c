// rdns_stage_test.cpp - PTR present, forward-confirmed, dynamic names; failures are 450 4.7.25;
// the iprev result (RFC 8601 2.7.3) each outcome records for Authentication-Results.
#include "stages/rdns/rdns_stage.h"

#include <gtest/gtest.h>

#include "core/auth_results.h"
#include "stage_test_support.h"

namespace mxguard::testing {
namespace {

using dns::RrType;

struct RdnsTest : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
  Findings run(const std::string& ip, const std::string& config = "") {
    auto stage = buildStage("rdns", config, dns);
    auto tx = clientTx(ip);
    return stage->onConnect(tx);
  }
};

TEST_F(RdnsTest, ConfirmedPasses) {
  dns->answer("10.2.0.192.in-addr.arpa", RrType::PTR, {"mail.client.example.net"})
      .answer("mail.client.example.net", RrType::A, {"192.0.2.10"});
  auto d = run("192.0.2.10");
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->reason, "rdns.ok");
  EXPECT_EQ(d->detail, "confirmed mail.client.example.net");
}

TEST_F(RdnsTest, NoPtrUsesPostfixWording) {
  auto d = run("192.0.2.20");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.20]\r\n");
  EXPECT_EQ(d->reason, "rdns.no_ptr");
}

TEST_F(RdnsTest, PtrTimeoutIs450NeverA5xx) {
  dns->timeout("20.2.0.192.in-addr.arpa", RrType::PTR);
  auto d = run("192.0.2.20");
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.20]\r\n");
  EXPECT_EQ(d->detail, "PTR: timed out after 5000 ms");
}

TEST_F(RdnsTest, NotConfirmed) {
  dns->answer("21.2.0.192.in-addr.arpa", RrType::PTR, {"forged.example.net"})
      .answer("forged.example.net", RrType::A, {"192.0.2.99"});
  auto d = run("192.0.2.21");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.21] "
            "(forged.example.net does not resolve to that address)\r\n");
  EXPECT_EQ(d->reason, "rdns.not_confirmed");
}

TEST_F(RdnsTest, ForwardTimeoutDefers) {
  dns->answer("21.2.0.192.in-addr.arpa", RrType::PTR, {"slow.example.net"})
      .servfail("slow.example.net", RrType::A);
  auto d = run("192.0.2.21");
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_EQ(d->reply->code(), 450);
}

TEST_F(RdnsTest, Ipv6ClientUsesNibblesAndAaaa) {
  std::string ptr = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
  dns->answer(ptr, RrType::PTR, {"mail6.client.example.net"})
      .answer("mail6.client.example.net", RrType::AAAA, {"2001:db8::10"});
  EXPECT_EQ(run("2001:db8::10")->reason, "rdns.ok");
}

TEST_F(RdnsTest, DynamicNames) {
  auto stage = buildStage("rdns", "dynamic = reject\n", dns);
  auto& rdns = static_cast<const stages::RdnsStage&>(*stage);
  auto ip = *IpAddress::parse("192.0.2.77");
  EXPECT_TRUE(rdns.looksDynamic("dsl-pool-1.isp.example", ip));
  EXPECT_TRUE(rdns.looksDynamic("ppp123.isp.example", ip));
  EXPECT_TRUE(rdns.looksDynamic("host-192-0-2-77.isp.example", ip));
  EXPECT_TRUE(rdns.looksDynamic("77.2.0.192.isp.example", ip));
  EXPECT_TRUE(rdns.looksDynamic("c192000002077.isp.example", ip));
  EXPECT_FALSE(rdns.looksDynamic("mail.example.net", ip));
  EXPECT_FALSE(rdns.looksDynamic("dynamo.example.net", ip));
  dns->answer("77.2.0.192.in-addr.arpa", RrType::PTR, {"dyn-77.isp.example"})
      .answer("dyn-77.isp.example", RrType::A, {"192.0.2.77"});
  auto d = run("192.0.2.77", "dynamic = reject\n");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.25 Client host rejected: [192.0.2.77] dyn-77.isp.example looks like a dynamic "
            "or residential address; please send through your provider's mail server\r\n");
}

TEST(RdnsConfig, TempfailReplyMustBe4xx) {
  EXPECT_EQ(configError("rdns", "tempfail_reply = 550 5.7.25 no\n"),
            "test.conf:2: rdns.tempfail_reply: a DNS failure must get a 4xx reply, not 550");
}

// The shipped default: no_ptr = reject, not_confirmed = warn, dynamic = off. A PTR whose target
// fails (a lame delegation) leaves only warn and off checks undecided: a warning, not a deferral.
TEST_F(RdnsTest, ForwardFailureOnlyAWarnCheckNeededIsAWarning) {
  dns->answer("50.2.0.192.in-addr.arpa", RrType::PTR, {"mail.lame.example.com"})
      .servfail("mail.lame.example.com", RrType::A);
  auto d = run("192.0.2.50", "no_ptr = reject\nnot_confirmed = warn\ndynamic = off\n");
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->mode, CheckMode::Warn);
  EXPECT_EQ(d->check, "not_confirmed");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.50]\r\n");
}

// The PTR lookup itself decides no_ptr too: with no_ptr enforced, its failure defers.
TEST_F(RdnsTest, PtrFailureTakesTheModeOfTheStrongestCheckItDecides) {
  dns->servfail("50.2.0.192.in-addr.arpa", RrType::PTR);
  auto d = run("192.0.2.50", "no_ptr = reject\nnot_confirmed = warn\ndynamic = off\n");
  EXPECT_EQ(d->mode, CheckMode::Enforce);
  EXPECT_EQ(d->check, "no_ptr");
  auto w = run("192.0.2.50", "no_ptr = warn\nnot_confirmed = off\ndynamic = warn\n");
  EXPECT_EQ(w->mode, CheckMode::Warn);
  EXPECT_EQ(w->check, "no_ptr");
}

// An off check does not run its lookups: all three off, nothing is asked.
TEST_F(RdnsTest, AllChecksOffAsksNothing) {
  dns->servfail("50.2.0.192.in-addr.arpa", RrType::PTR);
  auto stage = buildStage("rdns", "no_ptr = off\nnot_confirmed = off\ndynamic = off\n", dns);
  auto tx = clientTx("192.0.2.50");
  EXPECT_TRUE(stage->prefetch(Phase::Connect, tx).empty());
  EXPECT_FALSE(stage->onConnect(tx));
  EXPECT_TRUE(dns->queries().empty());
}

// With only no_ptr on, the PTR names are not looked up forward.
TEST_F(RdnsTest, OnlyNoPtrOnAsksOnlyThePtr) {
  dns->answer("50.2.0.192.in-addr.arpa", RrType::PTR, {"mail.lame.example.com"})
      .servfail("mail.lame.example.com", RrType::A);
  auto d = run("192.0.2.50", "no_ptr = reject\nnot_confirmed = off\ndynamic = off\n");
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->reason, "rdns.ok");
  ASSERT_EQ(dns->queries().size(), 1u);
  EXPECT_EQ(dns->queries()[0].type, RrType::PTR);
}

// --- iprev (RFC 8601 2.7.3) --------------------------------------------------------------------

struct IprevTest : RdnsTest {
  // The connection's results after its connect hook; `config` as in run().
  std::vector<AuthResult> iprev(const std::string& ip, const std::string& config = "") {
    auto stage = buildStage("rdns", config, dns);
    auto tx = clientTx(ip);
    stage->onConnect(tx);
    return tx.client.authResults;
  }
  static std::string text(const AuthResult& r) {
    std::string out = r.method + "=" + r.result + " (" + r.reason + ")";
    for (const auto& [k, v] : r.properties) out += " " + k + "=" + v;
    return out;
  }
  static std::vector<std::string> texts(const std::vector<AuthResult>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) out.push_back(text(r));
    return out;
  }
};

TEST_F(IprevTest, ForwardConfirmedIsPass) {
  dns->answer("10.2.0.192.in-addr.arpa", RrType::PTR, {"other.example.net", "mail.example.org"})
      .answer("other.example.net", RrType::A, {"192.0.2.99"})
      .answer("mail.example.org", RrType::A, {"192.0.2.98", "192.0.2.10"});
  EXPECT_EQ(texts(iprev("192.0.2.10")),
            std::vector<std::string>{"iprev=pass (mail.example.org) policy.iprev=192.0.2.10"});
}

// 2.7.3: no PTR data published is permerror ("a later attempt is unlikely to produce a final
// result"); fail is for PTR names that do not lead back to the address.
TEST_F(IprevTest, NoPtrIsPermerror) {
  dns->nxdomain("1.2.0.192.in-addr.arpa", RrType::PTR);
  EXPECT_EQ(
      texts(iprev("192.0.2.1")),
      std::vector<std::string>{"iprev=permerror (no PTR for 192.0.2.1) policy.iprev=192.0.2.1"});
  dns->nodata("1.2.0.192.in-addr.arpa", RrType::PTR);
  EXPECT_EQ(iprev("192.0.2.1").at(0).result, "permerror");
}

TEST_F(IprevTest, NotConfirmedIsFail) {
  dns->answer("1.2.0.192.in-addr.arpa", RrType::PTR, {"mail.example.org"})
      .answer("mail.example.org", RrType::A, {"192.0.2.99"});
  EXPECT_EQ(texts(iprev("192.0.2.1")),
            std::vector<std::string>{"iprev=fail (mail.example.org does not resolve to "
                                     "192.0.2.1) policy.iprev=192.0.2.1"});
  // A PTR name that does not exist at all (the forward query's NXDOMAIN) is a fail too.
  dns->answer("1.2.0.192.in-addr.arpa", RrType::PTR, {"gone.example.org", "mail.example.org"})
      .nxdomain("gone.example.org", RrType::A);
  EXPECT_EQ(texts(iprev("192.0.2.1")),
            std::vector<std::string>{"iprev=fail (gone.example.org and 1 other PTR name do not "
                                     "resolve to 192.0.2.1) policy.iprev=192.0.2.1"});
}

TEST_F(IprevTest, TemporaryFailuresAreTemperror) {
  dns->servfail("1.2.0.192.in-addr.arpa", RrType::PTR);
  EXPECT_EQ(
      texts(iprev("192.0.2.1")),
      std::vector<std::string>{"iprev=temperror (PTR lookup SERVFAIL) policy.iprev=192.0.2.1"});
  dns->answer("1.2.0.192.in-addr.arpa", RrType::PTR, {"slow.example.org"})
      .timeout("slow.example.org", RrType::A);
  EXPECT_EQ(texts(iprev("192.0.2.1")),
            std::vector<std::string>{"iprev=temperror (forward lookup timed out after 5000 ms) "
                                     "policy.iprev=192.0.2.1"});
}

// A PTR answer that will not get better by asking again (REFUSED, garbage records): permerror,
// while the checks still treat it as a lookup failure (450, never 5xx).
TEST_F(IprevTest, PermanentPtrFailureIsPermerror) {
  struct RefusingResolver : FakeResolver {
    std::vector<dns::LookupResult> lookupAll(const std::vector<dns::Query>& qs,
                                             std::chrono::milliseconds t) override {
      auto out = FakeResolver::lookupAll(qs, t);
      for (size_t i = 0; i < qs.size(); ++i)
        if (qs[i].type == RrType::PTR) out[i] = {dns::LookupStatus::PermFail, {}, 0, "rcode 5"};
      return out;
    }
  };
  auto refusing = std::make_shared<RefusingResolver>();
  auto stage = buildStage("rdns", "", refusing);
  auto tx = clientTx("192.0.2.1");
  auto d = stage->onConnect(tx);
  EXPECT_EQ(d->reply->code(), 450);
  EXPECT_EQ(
      texts(tx.client.authResults),
      std::vector<std::string>{"iprev=permerror (PTR lookup rcode 5) policy.iprev=192.0.2.1"});
}

TEST_F(IprevTest, NoLookupsNoIprev) {
  // All checks off: nothing looked up, nothing recorded.
  EXPECT_TRUE(iprev("192.0.2.1", "no_ptr = off\nnot_confirmed = off\ndynamic = off\n").empty());
  // Only no_ptr on: a PTR was found but never confirmed, so iprev is undecided.
  dns->answer("1.2.0.192.in-addr.arpa", RrType::PTR, {"mail.example.org"});
  EXPECT_TRUE(iprev("192.0.2.1", "no_ptr = reject\nnot_confirmed = off\ndynamic = off\n").empty());
  // ...but a missing PTR decides it without any forward lookup.
  dns->nxdomain("1.2.0.192.in-addr.arpa", RrType::PTR);
  EXPECT_EQ(
      iprev("192.0.2.1", "no_ptr = reject\nnot_confirmed = off\ndynamic = off\n").at(0).result,
      "permerror");
}

TEST_F(IprevTest, RecordedOncePerConnection) {
  dns->answer("10.2.0.192.in-addr.arpa", RrType::PTR, {"mail.example.org"})
      .answer("mail.example.org", RrType::A, {"192.0.2.10"});
  auto stage = buildStage("rdns", "", dns);
  auto tx = clientTx("192.0.2.10");
  stage->onConnect(tx);
  stage->onConnect(tx);
  EXPECT_EQ(tx.client.authResults.size(), 1u);
}

TEST_F(IprevTest, FormattedField) {
  dns->answer("10.2.0.192.in-addr.arpa", RrType::PTR, {"mail.example.org"})
      .answer("mail.example.org", RrType::A, {"192.0.2.10"});
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", iprev("192.0.2.10")),
            "mx.example.net;\n\tiprev=pass (mail.example.org) policy.iprev=192.0.2.10");
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", iprev("192.0.2.20")),
            "mx.example.net;\n\tiprev=permerror (no PTR for 192.0.2.20) policy.iprev=192.0.2.20");
  // An IPv6 address has ':' (an RFC 2045 tspecial): the value is a quoted-string.
  std::string ptr = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
  dns->answer(ptr, RrType::PTR, {"mail6.example.org"})
      .answer("mail6.example.org", RrType::AAAA, {"2001:db8::10"});
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", iprev("2001:db8::10")),
            "mx.example.net;\n\tiprev=pass (mail6.example.org) policy.iprev=\"2001:db8::10\"");
}

}  // namespace
}  // namespace mxguard::testing
