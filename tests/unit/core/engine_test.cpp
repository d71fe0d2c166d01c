// engine_test.cpp - the engine's rules with scripted stages: delayed reject, exemptions,
// whitelists, observe mode, on_failure, defer_if_permit, soft bounce, batching of DNS prefetch.
#include "core/engine.h"

#include <gtest/gtest.h>

#include <functional>

#include "base/log.h"

namespace mxguard {
namespace {

Reply reply(int code, const char* enh, const char* text) {
  return *Reply::make(code, enh, text);
}

// A stage whose hooks return what the test scripted.
class ScriptedStage : public Stage {
 public:
  explicit ScriptedStage(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  Findings onConnect(Connection&) const override { return connect; }
  Findings onHelo(Connection&) const override { return helo; }
  Findings onMail(Connection&) const override { return mail; }
  Findings onRcpt(Connection&, const std::string&) const override { return rcpt; }
  Findings onEom(Connection&) const override { return eom; }
  std::vector<dns::Query> prefetch(Phase p, const Connection&) const override {
    return p == Phase::Connect ? queries : std::vector<dns::Query>{};
  }
  std::optional<Decision> connect, helo, mail, rcpt, eom;
  std::vector<dns::Query> queries;

 private:
  std::string name_;
};

class CountingResolver : public dns::Resolver {
 public:
  std::vector<dns::LookupResult> lookupAll(const std::vector<dns::Query>& qs,
                                           std::chrono::milliseconds timeout) override {
    batches.push_back(qs);
    lastTimeout = timeout;
    return std::vector<dns::LookupResult>(
        qs.size(), dns::LookupResult{dns::LookupStatus::NotFound, {}, 60, ""});
  }
  std::vector<std::vector<dns::Query>> batches;
  std::chrono::milliseconds lastTimeout{0};
};

struct Fixture : ::testing::Test {
  void SetUp() override {
    setLogSink([this](LogLevel, std::string_view m) { logs.emplace_back(m); });
  }
  void TearDown() override { setLogSink(nullptr); }

  std::shared_ptr<ScriptedStage> addStage(const std::string& name, PhaseSet phases,
                                          StageMode mode = StageMode::Enforce,
                                          FailureMode onFailure = FailureMode::Tempfail) {
    auto s = std::make_shared<ScriptedStage>(name);
    StageEntry e;
    e.stage = s;
    e.phases = phases;
    e.mode = mode;
    e.onFailure = onFailure;
    policy->stages.push_back(e);
    return s;
  }
  Engine start(const char* ip = "192.0.2.1") {
    Engine s(policy);
    s.connection().client.clientIp = IpAddress::parse(ip);
    s.connection().client.clientAddress = ip;
    return s;
  }
  std::shared_ptr<Policy> policy = [] {
    auto p = std::make_shared<Policy>();
    return p;
  }();
  std::vector<std::string> logs;
};

const PhaseSet kAll{Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt, Phase::Eom};

TEST_F(Fixture, ConnectRejectIsDelayedToRcpt) {
  auto rbl = addStage("rbl", kAll);
  rbl->connect = Decision::reject(reply(554, "5.7.1", "blocked"), "rbl.listed", "zen=127.0.0.2");
  auto s = start();
  EXPECT_EQ(s.connect().action, Action::Pass);
  EXPECT_EQ(s.helo("mail.example.net").action, Action::Pass);
  EXPECT_EQ(s.mail("<a@example.org>").action, Action::Pass);
  Verdict v = s.rcpt("<bob@example.com>");
  EXPECT_EQ(v.action, Action::Reject);
  ASSERT_TRUE(v.reply);
  EXPECT_EQ(v.reply->toSmtp(), "554 5.7.1 blocked\r\n");
  EXPECT_EQ(v.reason, "rbl.listed");
  EXPECT_EQ(v.stage, "rbl");
  EXPECT_EQ(v.phase, Phase::Connect);
  ASSERT_EQ(s.connection().trace.size(), 1u);
  EXPECT_EQ(s.connection().trace[0].effect, "delayed");
}

TEST_F(Fixture, PostmasterAndAbuseAreExemptFromDelayedRejection) {
  auto rbl = addStage("rbl", kAll);
  rbl->connect = Decision::reject(reply(554, "5.7.1", "blocked"), "rbl.listed");
  auto s = start();
  s.connect();
  s.mail("a@example.org");
  EXPECT_EQ(s.rcpt("<Postmaster@example.com>").action, Action::Pass);
  EXPECT_EQ(s.rcpt("abuse@example.com").action, Action::Pass);
  EXPECT_EQ(s.rcpt("bob@example.com").action, Action::Reject);
  EXPECT_EQ(s.connection().message.recipients,
            (std::vector<std::string>{"Postmaster@example.com", "abuse@example.com"}));
}

TEST_F(Fixture, WithoutDelayHeloRejectGoesOutAtHelo) {
  policy->engine.delayReject = false;
  auto helo = addStage("helo", kAll);
  helo->helo = Decision::reject(reply(504, "5.5.2", "<x>: Helo command rejected"), "helo.non_fqdn");
  auto s = start();
  s.connect();
  Verdict v = s.helo("x");
  EXPECT_EQ(v.action, Action::Reject);
  EXPECT_EQ(v.reply->code(), 504);
}

TEST_F(Fixture, WithoutDelayConnectRejectGoesOutAtFirstCommand) {
  policy->engine.delayReject = false;
  auto rbl = addStage("rbl", kAll);
  rbl->connect = Decision::reject(reply(554, "5.7.1", "blocked"), "rbl.listed");
  auto s = start();
  EXPECT_EQ(s.connect().action, Action::Pass);  // libmilter cannot reply at connect
  EXPECT_EQ(s.helo("mail.example.net").action, Action::Reject);
}

TEST_F(Fixture, FirstRejectionStopsLaterStages) {
  auto a = addStage("rbl", kAll);
  auto b = addStage("rdns", kAll);
  a->connect = Decision::reject(reply(554, "5.7.1", "first"), "rbl.listed");
  b->connect = Decision::reject(reply(550, "5.7.25", "second"), "rdns.no_ptr");
  auto s = start();
  s.connect();
  s.mail("a@b");
  EXPECT_EQ(s.rcpt("c@d").reply->text(), "first");
  EXPECT_EQ(s.connection().trace.size(), 1u);
}

TEST_F(Fixture, ObserveModeLogsAndDoesNotReject) {
  auto rbl = addStage("rbl", kAll, StageMode::Observe);
  rbl->connect = Decision::reject(reply(554, "5.7.1", "blocked"), "rbl.listed");
  auto s = start();
  s.connect();
  s.mail("a@b");
  EXPECT_EQ(s.rcpt("c@d").action, Action::Pass);
  EXPECT_EQ(s.connection().trace[0].effect, "reject_warning");
  ASSERT_FALSE(logs.empty());
  EXPECT_EQ(logs[0],
            "rbl: reject_warning (observe mode): would reply: 554 5.7.1 blocked (rbl.listed)");
}

TEST_F(Fixture, DependencyFailureAcceptWhenConfigured) {
  auto rdns = addStage("rdns", kAll, StageMode::Enforce, FailureMode::Accept);
  rdns->connect = Decision::dependencyTempfail(reply(450, "4.7.25", "cannot find"),
                                               "rdns.dns_failure", "SERVFAIL");
  auto s = start();
  s.connect();
  s.mail("a@b");
  EXPECT_EQ(s.rcpt("c@d").action, Action::Pass);
  EXPECT_EQ(s.connection().trace[0].effect, "accepted_on_failure");
}

TEST_F(Fixture, DependencyFailureIsDeferIfPermitAndALaterRejectWins) {
  auto rdns = addStage("rdns", kAll);
  auto helo = addStage("helo", kAll);
  rdns->connect =
      Decision::dependencyTempfail(reply(450, "4.7.25", "try later"), "rdns.dns_failure");
  auto s = start();
  s.connect();
  s.helo("ok.example.net");
  s.mail("a@b");
  Verdict v = s.rcpt("c@d");
  EXPECT_EQ(v.action, Action::Tempfail);
  EXPECT_EQ(v.reply->toSmtp(), "450 4.7.25 try later\r\n");

  helo->helo = Decision::reject(reply(501, "5.5.2", "bad helo"), "helo.invalid");
  auto s2 = start();
  s2.connect();
  s2.helo("bad_helo");
  s2.mail("a@b");
  Verdict v2 = s2.rcpt("c@d");
  EXPECT_EQ(v2.action, Action::Reject);
  EXPECT_EQ(v2.reply->code(), 501);
}

TEST_F(Fixture, ATempfailIsNever5xx) {
  auto rdns = addStage("rdns", kAll);
  rdns->connect =
      Decision::dependencyTempfail(reply(550, "5.7.25", "wrongly permanent"), "rdns.dns_failure");
  auto s = start();
  s.connect();
  s.mail("a@b");
  Verdict v = s.rcpt("c@d");
  EXPECT_EQ(v.reply->code(), 450);
  EXPECT_EQ(v.reply->enhanced(), "4.7.25");
}

TEST_F(Fixture, SoftBounce) {
  policy->engine.softBounce = true;
  auto rbl = addStage("rbl", kAll);
  rbl->connect = Decision::reject(reply(554, "5.7.1", "blocked"), "rbl.listed");
  auto s = start();
  s.connect();
  s.mail("a@b");
  Verdict v = s.rcpt("c@d");
  EXPECT_EQ(v.action, Action::Tempfail);
  EXPECT_EQ(v.reply->toSmtp(), "454 4.7.1 blocked\r\n");
}

TEST_F(Fixture, WhitelistedClientsAndAuthenticatedUsersSkipStages) {
  policy->engine.whitelistClients = {*Cidr::parse("192.0.2.0/24"), *Cidr::parse("2001:db8::/32")};
  auto rbl = addStage("rbl", kAll);
  rbl->connect = Decision::reject(reply(554, "5.7.1", "blocked"), "rbl.listed");
  rbl->rcpt = rbl->connect;
  for (const char* ip : {"192.0.2.9", "2001:db8::25", "::ffff:192.0.2.10"}) {
    auto s = start(ip);
    s.connect();
    s.mail("a@b");
    EXPECT_EQ(s.rcpt("c@d").action, Action::Pass) << ip;
    EXPECT_EQ(s.connection().trace[0].outcome, "whitelisted");
  }
  auto other = start("198.51.100.1");
  other.connect();
  other.mail("a@b");
  EXPECT_EQ(other.rcpt("c@d").action, Action::Reject);

  auto authed = start("198.51.100.1");
  authed.connection().client.authUser = "alice";
  authed.mail("a@b");
  EXPECT_EQ(authed.rcpt("c@d").action, Action::Pass);
  EXPECT_EQ(authed.connection().trace[0].detail, "authenticated as alice");
}

TEST_F(Fixture, PrefetchIssuesEveryStagesQueriesInOneBatch) {
  auto resolver = std::make_shared<CountingResolver>();
  policy->resolver = resolver;
  auto a = addStage("rbl", kAll);
  auto b = addStage("rdns", kAll);
  a->queries = {{"1.2.0.192.zen.example", dns::RrType::A},
                {"1.2.0.192.zen.example", dns::RrType::TXT}};
  b->queries = {{"1.2.0.192.in-addr.arpa", dns::RrType::PTR}};
  policy->stages[0].dnsTimeout = std::chrono::milliseconds(700);
  policy->stages[1].dnsTimeout = std::chrono::milliseconds(300);
  auto s = start();
  s.connect();
  ASSERT_EQ(resolver->batches.size(), 1u);
  EXPECT_EQ(resolver->batches[0].size(), 3u);
  EXPECT_EQ(resolver->lastTimeout, std::chrono::milliseconds(700));
  EXPECT_EQ(s.connection().dnsAnswers.size(), 3u);
}

TEST_F(Fixture, MailPhaseRejectionIsClearedForTheNextMessage) {
  auto helo = addStage("helo", kAll);
  helo->mail = Decision::reject(reply(503, "5.5.1", "Error: send HELO/EHLO first"), "helo.missing");
  auto s = start();
  s.connect();
  s.mail("a@b");
  EXPECT_EQ(s.rcpt("c@d").reply->code(), 503);
  s.abort();
  helo->mail.reset();
  s.mail("a@b");
  EXPECT_EQ(s.rcpt("c@d").action, Action::Pass);
}

TEST_F(Fixture, SummaryLineHasEverything) {
  auto rbl = addStage("rbl", kAll);
  rbl->connect = Decision::reject(reply(554, "5.7.1", "blocked"), "rbl.listed", "zen=127.0.0.2");
  auto s = start();
  s.connection().client.clientName = "mail.example.net";
  s.connect();
  s.helo("mail.example.net");
  s.mail("<a@example.org>");
  s.connection().message.queueId = "4ABC";
  s.rcpt("postmaster@example.com");
  s.rcpt("bob@example.com");
  s.endOfMessage();
  EXPECT_EQ(logs.back(),
            "4ABC: client=mail.example.net[192.0.2.1] helo=<mail.example.net> from=<a@example.org> "
            "to=<postmaster@example.com> rejected=<bob@example.com> 554 5.7.1 "
            "stages=rbl:listed/delayed,engine:exempt/accept despite earlier rejection "
            "action=accept reason=rbl.listed reply=\"blocked\"");
}

TEST_F(Fixture, SecondTransactionLogsOnlyItsOwnOutcomes) {
  auto rbl = addStage("rbl", kAll);
  rbl->connect = Decision::reject(reply(554, "5.7.1", "blocked"), "rbl.listed");
  auto s = start();
  s.connect();
  s.mail("a@b");
  s.rcpt("postmaster@example.com");
  s.endOfMessage();
  s.mail("c@d");
  s.rcpt("user@example.com");
  s.abort();
  EXPECT_EQ(logs.back(),
            "NOQUEUE: client=unknown[192.0.2.1] helo=<> from=<c@d> rejected=<user@example.com> 554 "
            "5.7.1 stages=rbl:listed/delayed action=reject reason=rbl.listed reply=\"blocked\"");
}

TEST_F(Fixture, ConnectionWithoutMailIsLoggedOnce) {
  auto s = start();
  s.connect();
  s.close();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0], "NOQUEUE: client=unknown[192.0.2.1] helo=<> stages=none action=disconnect");
}

}  // namespace
}  // namespace mxguard
