// dmarc_stage_test.cpp - RFC 7489 record parsing with its tolerance rules, organisational domains
// from Debian's public suffix list, alignment, pct sampling, and the stage's replies, quarantine,
// exemptions, Authentication-Results and report facts, against a FakeResolver.
#include <gtest/gtest.h>

#include "core/auth_results.h"
#include "stage_test_support.h"
#include "stages/dmarc/dmarc_evaluation.h"
#include "stages/dmarc/dmarc_record.h"
#include "stages/organizational_domain.h"

namespace mxguard {
namespace {

using dns::RrType;
using stages::DmarcPolicyFound;
using testing::buildStage;
using testing::clientTx;
using testing::FakeResolver;

const char* kPsl = "/usr/share/publicsuffix/public_suffix_list.dafsa";

const stages::PublicSuffixList& psl() {
  static auto list = stages::PublicSuffixList::load(kPsl);
  return *list;
}

TEST(DmarcRecord, OnlyRecordsStartingWithVersionCount) {
  EXPECT_EQ(stages::dmarcRecordsOf({"v=spf1 -all", "v=DMARC1; p=none", "v = DMARC1;p=reject",
                                    "v=DMARC10; p=none", "v=dmarc1; p=none", "x v=DMARC1"}),
            (std::vector<std::string>{"v=DMARC1; p=none", "v = DMARC1;p=reject"}));
}

TEST(DmarcRecord, ParsesWithDefaults) {
  auto r = stages::parseDmarcRecord("v=DMARC1; p=reject; rua=mailto:d@example.org");
  ASSERT_TRUE(r.record) << r.problem;
  EXPECT_EQ(r.record->p, "reject");
  EXPECT_EQ(r.record->sp, "");
  EXPECT_EQ(r.record->adkim, 'r');
  EXPECT_EQ(r.record->aspf, 'r');
  EXPECT_EQ(r.record->pct, 100);
  EXPECT_EQ(r.record->fo, "0");
  EXPECT_TRUE(r.record->notes.empty());
}

TEST(DmarcRecord, AllTags) {
  auto r = stages::parseDmarcRecord(
      "v=DMARC1; p=quarantine; sp=reject; adkim=s; aspf=s; pct=30; fo=1; ri=3600");
  ASSERT_TRUE(r.record) << r.problem;
  EXPECT_EQ(r.record->p, "quarantine");
  EXPECT_EQ(r.record->sp, "reject");
  EXPECT_EQ(r.record->adkim, 's');
  EXPECT_EQ(r.record->aspf, 's');
  EXPECT_EQ(r.record->pct, 30);
  EXPECT_EQ(r.record->fo, "1");
}

TEST(DmarcRecord, InvalidOptionalTagsFallBackToDefaults) {
  // libopendmarc alone reads pct=abc as 0 (no enforcement) and refuses pct=150 outright.
  for (const char* pct : {"abc", "150", "-1", ""}) {
    auto r = stages::parseDmarcRecord(std::string("v=DMARC1; p=reject; pct=") + pct);
    ASSERT_TRUE(r.record) << pct << ": " << r.problem;
    EXPECT_EQ(r.record->pct, 100) << pct;
    EXPECT_EQ(r.record->p, "reject") << pct;
  }
  auto r = stages::parseDmarcRecord("v=DMARC1; p=reject; adkim=x; aspf=s");
  ASSERT_TRUE(r.record) << r.problem;
  EXPECT_EQ(r.record->adkim, 'r');
  EXPECT_EQ(r.record->aspf, 's');
  EXPECT_EQ(r.record->notes, std::vector<std::string>{"adkim=x ignored (invalid value)"});
}

TEST(DmarcRecord, MissingPolicy) {
  auto none = stages::parseDmarcRecord("v=DMARC1; adkim=s");
  EXPECT_FALSE(none.record);
  EXPECT_EQ(none.problem, "no p= tag and no rua= to report to");
  auto bad = stages::parseDmarcRecord("v=DMARC1; p=bogus");
  EXPECT_FALSE(bad.record);
  EXPECT_EQ(bad.problem, "invalid p= or sp= tag and no rua= to report to");
  // RFC 7489 6.6.3 step 6: with a report address it is p=none.
  auto withRua = stages::parseDmarcRecord("v=DMARC1; p=bogus; rua=mailto:agg@example.org");
  ASSERT_TRUE(withRua.record) << withRua.problem;
  EXPECT_EQ(withRua.record->p, "none");
  EXPECT_EQ(withRua.record->rua, std::vector<std::string>{"mailto:agg@example.org"});
  EXPECT_EQ(withRua.record->notes,
            (std::vector<std::string>{"p=bogus ignored (invalid value)",
                                      "treated as p=none (no valid policy, but rua= is given)"}));
}

TEST(OrganizationalDomain, FromDebiansList) {
  EXPECT_EQ(psl().organizationalDomain("mail.example.org"), "example.org");
  EXPECT_EQ(psl().organizationalDomain("example.org"), "example.org");
  EXPECT_EQ(psl().organizationalDomain("a.b.example.co.uk"), "example.co.uk");
  // Wildcard and exception rules (libopendmarc's own reader gets these wrong).
  EXPECT_EQ(psl().organizationalDomain("a.b.c.kawasaki.jp"), "b.c.kawasaki.jp");
  EXPECT_EQ(psl().organizationalDomain("www.city.kawasaki.jp"), "city.kawasaki.jp");
  // Private section: two users of a hosting suffix are two organisations.
  EXPECT_FALSE(psl().sameOrganization("victim.github.io", "evil.github.io"));
  EXPECT_TRUE(psl().sameOrganization("a.example.org", "b.example.org"));
  EXPECT_EQ(psl().organizationalDomain("co.uk"), "co.uk");
}

TEST(OrganizationalDomain, MissingListIsAnError) {
  EXPECT_THROW(stages::PublicSuffixList::load("/nonexistent/psl.dafsa"), std::runtime_error);
}

AuthResult spf(const std::string& result, const std::string& mailfrom) {
  return {"spf", result, "", {{"smtp.mailfrom", mailfrom}}};
}
AuthResult dkim(const std::string& result, const std::string& d, const std::string& reason = "") {
  return {"dkim", result, reason, {{"header.d", d}, {"header.s", "sel"}, {"header.b", "abcd1234"}}};
}

DmarcPolicyFound policy(const std::string& text, const std::string& domain = "example.org",
                        bool org = false) {
  return {std::make_shared<const stages::DmarcRecordParse>(stages::parseDmarcRecord(text)), domain,
          org};
}

// RFC 7489 3.1: each alignment mode against each way SPF and DKIM can pass.
TEST(DmarcJudgement, AlignmentMatrix) {
  struct Case {
    const char* record;
    std::vector<AuthResult> results;
    const char* result;
    const char* dkimAligned;
    const char* spfAligned;
  };
  std::vector<Case> cases{
      {"v=DMARC1; p=reject",
       {spf("pass", "b@example.org"), {"dkim", "none", "", {}}},
       "pass",
       "fail",
       "pass"},
      {"v=DMARC1; p=reject", {spf("pass", "b@bounce.example.org")}, "pass", "fail", "pass"},
      {"v=DMARC1; p=reject; aspf=s", {spf("pass", "b@bounce.example.org")}, "fail", "fail", "fail"},
      {"v=DMARC1; p=reject", {spf("pass", "b@example.net")}, "fail", "fail", "fail"},
      {"v=DMARC1; p=reject", {spf("fail", "b@example.org")}, "fail", "fail", "fail"},
      {"v=DMARC1; p=reject",
       {spf("fail", "b@example.net"), dkim("pass", "mail.example.org")},
       "pass",
       "pass",
       "fail"},
      {"v=DMARC1; p=reject; adkim=s",
       {spf("fail", "b@example.net"), dkim("pass", "mail.example.org")},
       "fail",
       "fail",
       "fail"},
      {"v=DMARC1; p=reject; adkim=s", {dkim("pass", "example.org")}, "pass", "pass", "fail"},
      {"v=DMARC1; p=reject",
       {dkim("fail", "example.org"), dkim("pass", "example.net")},
       "fail",
       "fail",
       "fail"},
      {"v=DMARC1; p=reject", {spf("softfail", "b@example.org")}, "fail", "fail", "fail"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    auto j = stages::judgeDmarc("example.org", policy(c.record), c.results, "b@x.example", psl());
    EXPECT_EQ(j.facts.result, c.result) << "case " << i;
    EXPECT_EQ(j.facts.dkimAligned, c.dkimAligned) << "case " << i;
    EXPECT_EQ(j.facts.spfAligned, c.spfAligned) << "case " << i;
  }
}

TEST(DmarcJudgement, NullSenderCountsTheHeloIdentity) {
  std::vector<AuthResult> results{{"spf", "pass", "", {{"smtp.helo", "mx.example.org"}}}};
  auto j = stages::judgeDmarc("example.org", policy("v=DMARC1; p=reject"), results, "", psl());
  EXPECT_EQ(j.facts.result, "pass");
  ASSERT_EQ(j.facts.spf.size(), 1u);
  EXPECT_EQ(j.facts.spf[0].scope, "helo");
  EXPECT_EQ(j.facts.envelopeFrom, "");
}

TEST(DmarcJudgement, SubdomainPolicyAndEvidence) {
  std::vector<AuthResult> results{spf("pass", "b@bounce.example.net"),
                                  dkim("fail", "mail.example.org", "body hash mismatch")};
  auto j = stages::judgeDmarc("mail.example.org",
                              policy("v=DMARC1; p=reject; sp=quarantine", "example.org", true),
                              results, "b@bounce.example.net", psl());
  EXPECT_EQ(j.requested, "quarantine");
  EXPECT_EQ(j.evidence,
            "SPF pass for bounce.example.net (not aligned with mail.example.org); DKIM fail for "
            "d=mail.example.org (body hash mismatch)");
  auto direct = stages::judgeDmarc("mail.example.org",
                                   policy("v=DMARC1; p=reject; sp=quarantine", "mail.example.org"),
                                   results, "b@bounce.example.net", psl());
  EXPECT_EQ(direct.requested, "reject");  // found at the From domain itself: p= applies
}

TEST(DmarcJudgement, PercentageSampling) {
  DmarcFacts f;
  EXPECT_EQ(stages::applyPercentage("reject", 100, 99, f), "reject");
  EXPECT_EQ(stages::applyPercentage("reject", 0, 0, f), "quarantine");
  EXPECT_EQ(stages::applyPercentage("quarantine", 50, 50, f), "none");
  EXPECT_EQ(stages::applyPercentage("quarantine", 50, 49, f), "quarantine");
  ASSERT_EQ(f.overrides.size(), 2u);
  EXPECT_EQ(f.overrides[0].type, "sampled_out");
  EXPECT_EQ(f.overrides[0].comment, "pct=0: reject applied as quarantine");
  EXPECT_EQ(stages::percentageSample("k", "<a@example.org>"),
            stages::percentageSample("k", "<a@example.org>"));
  // Over many Message-IDs the samples spread over [0, 100): about half fall under pct=50, and
  // another seed sorts them differently.
  int under50 = 0, moved = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string id = "<" + std::to_string(i) + "@example.org>";
    int s = stages::percentageSample("k", id);
    ASSERT_GE(s, 0);
    ASSERT_LT(s, 100);
    under50 += s < 50;
    moved += s != stages::percentageSample("other", id);
  }
  EXPECT_NEAR(under50, 500, 60);
  EXPECT_GT(moved, 900);
}

// --- the stage ---

struct DmarcStageTest : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
  Connection tx = clientTx("192.0.2.1", "mail.example.net");

  void message(const std::string& from, std::vector<AuthResult> results,
               const std::string& sender = "b@example.net") {
    tx.message.senderSeen = true;
    tx.message.sender = sender;
    if (!from.empty()) tx.message.headers.push_back({"From", from});
    tx.message.headers.push_back({"Message-ID", "<1@example.org>"});
    tx.message.authResults = std::move(results);
  }
  Findings run(const std::string& config = "") {
    auto stage = buildStage("dmarc", config, dns);
    // As the engine does: every header field, then end of message (a fresh message state).
    Message m = tx.message;
    tx.resetMessage();
    tx.message = std::move(m);
    for (const auto& h : tx.message.headers) stage->onHeader(tx, h);
    return stage->onEom(tx);
  }
  static std::string replyOf(const Decision& d) {
    return std::to_string(d.reply->code()) + " " + d.reply->enhanced() + " " + d.reply->text();
  }
  std::string authResults() {
    return formatAuthenticationResults("mx.example.net", tx.message.authResults);
  }
};

TEST_F(DmarcStageTest, RejectPolicyFailureIsRejectedWithThePolicyNamed) {
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=reject"});
  message("Alice <alice@example.org>", {spf("fail", "b@example.net"), {"dkim", "none", "", {}}});
  auto f = run();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->action, Action::Reject);
  EXPECT_EQ(f->mode, CheckMode::Enforce);
  EXPECT_EQ(f->reason, "dmarc.fail");
  EXPECT_EQ(replyOf(*f),
            "550 5.7.26 Unauthenticated email from example.org is not accepted due to the "
            "domain's DMARC policy (p=reject); SPF fail for example.net; DKIM: no signature; the "
            "sender must pass SPF or DKIM aligned with example.org");
  EXPECT_EQ(authResults(),
            "mx.example.net;\n\tspf=fail smtp.mailfrom=b@example.net;\n\tdkim=none;\n\t"
            "dmarc=fail (p=reject dis=reject) header.from=example.org policy.dmarc=reject");
  ASSERT_TRUE(tx.message.dmarc);
  EXPECT_EQ(tx.message.dmarc->disposition, "reject");
  EXPECT_EQ(tx.message.dmarc->policyDomain, "example.org");
  EXPECT_EQ(tx.message.dmarc->envelopeFrom, "example.net");
}

TEST_F(DmarcStageTest, APolicyAtTheFromDomainAsksNothingElse) {
  dns->answer("_dmarc.mail.example.org", RrType::TXT, {"v=DMARC1; p=none"});
  message("alice@mail.example.org", {spf("pass", "b@mail.example.org")});
  EXPECT_EQ(run()->reason, "dmarc.pass");
  EXPECT_EQ(dns->queries(), (std::vector<dns::Query>{{"_dmarc.mail.example.org", RrType::TXT}}));
}

TEST_F(DmarcStageTest, PassIsRecorded) {
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=reject"});
  message("alice@example.org", {spf("fail", "b@example.net"), dkim("pass", "example.org")});
  auto f = run();
  EXPECT_EQ(f->action, Action::Pass);
  EXPECT_EQ(f->reason, "dmarc.pass");
  EXPECT_NE(authResults().find("dmarc=pass (p=reject dis=none) header.from=example.org "
                               "policy.dmarc=none"),
            std::string::npos)
      << authResults();
}

TEST_F(DmarcStageTest, NonePolicyAcceptsAndReports) {
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=none; rua=mailto:r@example.org"});
  message("alice@example.org", {spf("fail", "b@example.org")});
  auto f = run();
  EXPECT_EQ(f->action, Action::Pass);
  EXPECT_EQ(f->reason, "dmarc.fail");
  EXPECT_EQ(tx.message.dmarc->result, "fail");
  EXPECT_EQ(tx.message.dmarc->disposition, "none");
}

TEST_F(DmarcStageTest, QuarantineByHeaderOrHold) {
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=quarantine"});
  message("alice@example.org", {spf("fail", "b@example.org")});
  auto f = run();
  EXPECT_EQ(f->action, Action::Pass);
  EXPECT_EQ(f->reason, "dmarc.quarantine");
  ASSERT_EQ(tx.message.addedHeaders.size(), 1u);
  EXPECT_EQ(tx.message.addedHeaders[0].name, "X-Mxguard-Quarantine");
  EXPECT_EQ(tx.message.addedHeaders[0].value, "dmarc: example.org p=quarantine failed");

  tx.message.addedHeaders.clear();
  tx.message.authResults = {spf("fail", "b@example.org")};
  auto hold = run("quarantine_with = hold\n");
  EXPECT_EQ(hold->action, Action::Quarantine);
  EXPECT_TRUE(tx.message.addedHeaders.empty());
}

TEST_F(DmarcStageTest, OrganizationalFallbackUsesSubdomainPolicy) {
  dns->nxdomain("_dmarc.mail.example.org", RrType::TXT);
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=reject; sp=none"});
  message("alice@mail.example.org", {spf("fail", "b@example.net")});
  auto f = run();
  EXPECT_EQ(f->action, Action::Pass);
  EXPECT_EQ(tx.message.dmarc->policyDomain, "example.org");
  EXPECT_NE(authResults().find("dmarc=fail (sp=none dis=none) header.from=mail.example.org"),
            std::string::npos)
      << authResults();
  // The organisational domain is asked only after the From domain had no record.
  EXPECT_EQ(dns->queries(), (std::vector<dns::Query>{{"_dmarc.mail.example.org", RrType::TXT},
                                                     {"_dmarc.example.org", RrType::TXT}}));
}

TEST_F(DmarcStageTest, SeveralRecordsAndBrokenRecordArePermerrors) {
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=reject", "v=DMARC1; p=none"});
  message("alice@example.org", {spf("fail", "b@example.net")});
  auto f = run();
  EXPECT_EQ(f->action, Action::Pass);
  EXPECT_EQ(f->reason, "dmarc.permerror");
  EXPECT_NE(authResults().find("dmarc=permerror (2 DMARC records at _dmarc.example.org) "
                               "header.from=example.org"),
            std::string::npos)
      << authResults();
}

TEST_F(DmarcStageTest, LookupFailureIsATemporaryDependencyFailure) {
  dns->servfail("_dmarc.example.org", RrType::TXT);
  message("alice@example.org", {spf("fail", "b@example.net")});
  auto f = run();
  EXPECT_EQ(f->action, Action::Tempfail);
  EXPECT_TRUE(f->dependencyFailure);
  EXPECT_EQ(replyOf(*f),
            "451 4.7.26 Message deferred: the DMARC policy of example.org could not be looked up "
            "(TXT _dmarc.example.org: SERVFAIL); try again later");
  EXPECT_EQ(tx.message.dmarc->result, "temperror");
}

TEST_F(DmarcStageTest, FromProblemsGetTheirOwnReply) {
  message("", {});
  auto none = run();
  EXPECT_EQ(none->action, Action::Reject);
  EXPECT_EQ(replyOf(*none),
            "550 5.7.1 Message rejected: no author domain in the From header field, so DMARC "
            "cannot be applied (RFC 7489 6.6.1; RFC 5322 3.6 requires one From)");

  tx.message = Message{};
  message("a@one.example, b@two.example", {});
  auto several = run();
  EXPECT_EQ(several->action, Action::Reject);
  EXPECT_EQ(replyOf(*several),
            "550 5.7.1 Message rejected: the From header field names several domains "
            "(one.example, two.example), so DMARC cannot tell whose policy applies (RFC 7489 "
            "6.6.1)");
}

TEST_F(DmarcStageTest, SeveralFromDomainsInWarnModeTheStrictestWins) {
  dns->answer("_dmarc.one.example", RrType::TXT, {"v=DMARC1; p=none"});
  dns->answer("_dmarc.two.example", RrType::TXT, {"v=DMARC1; p=reject"});
  message("a@one.example, b@two.example", {spf("fail", "b@example.net")});
  auto f = run("multiple_from = warn\n");
  ASSERT_EQ(f.items().size(), 2u);
  EXPECT_EQ(f.items()[0].mode, CheckMode::Warn);
  EXPECT_EQ(f.items()[1].action, Action::Reject);
  EXPECT_EQ(tx.message.dmarc->headerFrom, "two.example");
}

TEST_F(DmarcStageTest, TrustedForwarderIsNotRejectedButRecorded) {
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=reject"});
  message("alice@example.org", {spf("fail", "b@example.org")});
  tx.client.clientName = "relay.forwarder.example";
  auto f = run("trusted_forwarders = 198.51.100.0/24 .forwarder.example\n");
  EXPECT_EQ(f->action, Action::Pass);
  EXPECT_EQ(f->reason, "dmarc.fail");
  EXPECT_NE(f->detail.find("trusted_forwarder client relay.forwarder.example[192.0.2.1] matches "
                           ".forwarder.example: reject not applied"),
            std::string::npos)
      << f->detail;
  ASSERT_EQ(tx.message.dmarc->overrides.size(), 1u);
  EXPECT_EQ(tx.message.dmarc->overrides[0].type, "trusted_forwarder");
  EXPECT_EQ(tx.message.dmarc->disposition, "none");
}

TEST_F(DmarcStageTest, WarnModeLogsTheWouldBeReplyAndRecordsNone) {
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=reject"});
  message("alice@example.org", {spf("fail", "b@example.org")});
  auto f = run("policy_reject = warn\n");
  EXPECT_EQ(f->action, Action::Reject);
  EXPECT_EQ(f->mode, CheckMode::Warn);
  EXPECT_EQ(tx.message.dmarc->disposition, "none");
  EXPECT_EQ(tx.message.dmarc->overrides.at(0).comment, "warn mode");
}

TEST_F(DmarcStageTest, PctZeroQuarantinesInsteadOfRejecting) {
  dns->answer("_dmarc.example.org", RrType::TXT, {"v=DMARC1; p=reject; pct=0"});
  message("alice@example.org", {spf("fail", "b@example.org")});
  auto f = run();
  EXPECT_EQ(f->reason, "dmarc.quarantine");
  EXPECT_EQ(tx.message.dmarc->overrides.at(0).type, "sampled_out");
}

TEST(DmarcStageConfig, BadValuesNameTheOption) {
  EXPECT_NE(testing::configError("dmarc", "policy_reject = maybe\n").find("policy_reject"),
            std::string::npos);
  EXPECT_NE(testing::configError("dmarc", "public_suffix_list = /nope\n")
                .find("cannot read the public suffix list '/nope'"),
            std::string::npos);
  EXPECT_NE(testing::configError("dmarc", "trusted_forwarders = not_a_host\n")
                .find("'not_a_host' is neither an address/CIDR nor a host name"),
            std::string::npos);
  EXPECT_NE(testing::configError("dmarc", "reply_temperror = 550 5.7.1 no\n").find("4xx"),
            std::string::npos);
}

}  // namespace
}  // namespace mxguard
