// behaviour_engine_test.cpp - the behaviour stage in a policy loaded as the daemon loads it,
// through a real Engine: the engine's rules (delay, 421 closing, exemptions, observe) applied
// to the stage's decisions.
#include <gtest/gtest.h>

#include "app/policy_loader.h"
#include "base/log.h"
#include "core/engine.h"
#include "fakes/fake_resolver.h"
#include "store/memory_store.h"
#include "unit/stages/behaviour_replies.h"

namespace mxguard::testing {
namespace {

// A stage whose hooks return what the test scripted (as in engine_test.cpp).
class ScriptedStage : public Stage {
 public:
  std::string_view name() const override { return "scripted"; }
  Findings onConnect(Connection&) const override { return connect; }
  Findings onHelo(Connection&) const override { return helo; }
  Findings onRcpt(Connection&, const std::string&) const override { return rcpt; }
  Findings connect, helo, rcpt;
};

struct BehaviourSession : ::testing::Test {
  void SetUp() override {
    setLogSink([this](LogLevel, std::string_view m) { logs.emplace_back(m); });
  }
  void TearDown() override { setLogSink(nullptr); }

  // The policy as the daemon would load it, plus (optionally) a scripted stage after behaviour.
  void load(const std::string& behaviourSection, const std::string& engine = "") {
    app::PolicyLoadOptions o;
    o.resolver = std::make_shared<FakeResolver>();
    o.store = std::make_shared<store::MemoryStore>();
    o.ourHostname = "mx.example.net";
    auto loaded = app::loadPolicyText("[engine]\nstages = behaviour\nwhitelist_clients =\n" +
                                          engine + "[behaviour]\n" + behaviourSection,
                                      "p.conf", o);
    policy = std::make_shared<Policy>(*loaded);
  }
  std::shared_ptr<ScriptedStage> addScripted(bool first = false) {
    auto s = std::make_shared<ScriptedStage>();
    StageEntry e;
    e.stage = s;
    e.phases = PhaseSet{Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt};
    policy->stages.insert(first ? policy->stages.begin() : policy->stages.end(), e);
    return s;
  }
  Engine start() {
    Engine s(policy);
    auto& c = s.connection().client;
    c.clientIp = IpAddress::parse("192.0.2.10");
    c.clientAddress = "192.0.2.10";
    c.ourHostname = "mx.example.net";
    return s;
  }
  static std::string text(const Verdict& v) {
    return v.reply ? v.reply->toSmtp() : std::string("pass ") + toString(v.action);
  }
  std::shared_ptr<Policy> policy;
  std::vector<std::string> logs;
};

TEST_F(BehaviourSession, RsetsAreCountedAndThe421GoesOutAtMailNotAtRcpt) {
  load("max_rsets = 3\nmax_messages_per_connection = 10\n");
  ASSERT_TRUE(policy->engine.delayReject) << "the rule under test is the exception to delay";
  auto s = start();
  s.connect();
  EXPECT_EQ(text(s.helo("mail.client.example.net")), "pass pass");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(text(s.mail("<a@example.org>")), "pass pass") << "MAIL " << i + 1;
    s.abort();  // what the milter adapter calls for Postfix's abort at RSET
  }
  EXPECT_EQ(s.connection().counters.abortedTransactions, 4u);
  EXPECT_EQ(s.connection().counters.messages, 4u);
  Verdict v = s.mail("<a@example.org>");
  EXPECT_EQ(v.action, Action::Tempfail);
  EXPECT_EQ(v.phase, Phase::Mail);
  EXPECT_EQ(v.stage, "behaviour");
  EXPECT_EQ(v.reason, "behaviour.too_many_rsets");
  EXPECT_EQ(text(v), kRsets);
  ASSERT_FALSE(s.connection().trace.empty());
  EXPECT_EQ(s.connection().trace.back().effect, "tempfail") << "sent, not 'delayed'";
  EXPECT_EQ(s.connection().trace.back().detail, "4 aborted transactions, limit 3");
}

TEST_F(BehaviourSession, MessagesAreCountedAcrossDeliveredMessages) {
  load(kSmallLimits);
  auto s = start();
  s.connect();
  s.helo("mail.client.example.net");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(text(s.mail("<a@example.org>")), "pass pass");
    EXPECT_EQ(text(s.rcpt("<user@example.org>")), "pass pass");
    EXPECT_EQ(text(s.endOfMessage()), "pass pass");
  }
  EXPECT_EQ(s.connection().counters.messages, 3u);
  EXPECT_EQ(s.connection().counters.abortedTransactions, 0u) << "delivered, not aborted";
  Verdict v = s.mail("<a@example.org>");
  EXPECT_EQ(text(v), kMessages);
  EXPECT_EQ(v.phase, Phase::Mail);
  s.close();
  EXPECT_EQ(
      logs.back(),
      "NOQUEUE: client=unknown[192.0.2.10] helo=<mail.client.example.net> from=<a@example.org> "
      "stages=behaviour:too_many_messages/tempfail action=disconnect "
      "reason=behaviour.too_many_messages reply=\"mx.example.net Error: too many messages in one "
      "connection from 192.0.2.10 (limit 3); closing connection\"");
}

TEST_F(BehaviourSession, OnlyRecipientsAStageRefusedCount) {
  load(kSmallLimits);
  auto scripted = addScripted();  // after behaviour: it refuses, behaviour counts next time
  scripted->rcpt = Decision::reject(*Reply::make(550, "5.1.1", "<x@example.org>: no such user"),
                                    "scripted.unknown_user");
  auto s = start();
  s.connect();
  s.helo("mail.client.example.net");
  s.mail("<a@example.org>");
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(text(s.rcpt("<x@example.org>")), "550 5.1.1 <x@example.org>: no such user\r\n")
        << "RCPT " << i + 1;
  EXPECT_EQ(s.connection().counters.rejectedRecipients, 4u);
  Verdict v = s.rcpt("<x@example.org>");
  EXPECT_EQ(text(v), kRejected);
  EXPECT_EQ(v.reason, "behaviour.too_many_rejected_recipients");
  EXPECT_EQ(v.phase, Phase::Rcpt);
  // An exempt recipient is accepted whatever the stages said: the exemption is the engine's.
  scripted->rcpt = {};
  EXPECT_EQ(text(s.rcpt("<postmaster@example.org>")), "pass pass");
}

TEST_F(BehaviourSession, AcceptedRecipientsDoNotCount) {
  load(kSmallLimits);
  auto s = start();
  s.connect();
  s.helo("mail.client.example.net");
  s.mail("<a@example.org>");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(text(s.rcpt("<user@example.org>")), "pass pass");
  EXPECT_EQ(s.connection().counters.rejectedRecipients, 0u);
}

TEST_F(BehaviourSession, AConnect421IsSentAtHeloDespiteDelayReject) {
  load(kSmallLimits);
  ASSERT_TRUE(policy->engine.delayReject);
  auto scripted = addScripted(true);
  scripted->connect = Decision::tempfail(
      *Reply::make(421, "4.7.0", "mx.example.net Error: too many connections from 192.0.2.10"),
      "scripted.too_many_connections");
  auto s = start();
  EXPECT_EQ(text(s.connect()), "pass pass") << "libmilter cannot reply at connect";
  Verdict v = s.helo("mail.client.example.net");
  EXPECT_EQ(v.action, Action::Tempfail);
  EXPECT_EQ(v.phase, Phase::Connect);
  EXPECT_EQ(text(v), "421 4.7.0 mx.example.net Error: too many connections from 192.0.2.10\r\n");
}

TEST_F(BehaviourSession, AConnect554IsStillDelayedToRcpt) {
  // The contrast to the test above: only 421 skips the delay.
  load(kSmallLimits);
  auto scripted = addScripted(true);
  scripted->connect = Decision::reject(*Reply::make(554, "5.7.1", "blocked"), "scripted.listed");
  auto s = start();
  s.connect();
  EXPECT_EQ(text(s.helo("mail.client.example.net")), "pass pass");
  EXPECT_EQ(text(s.mail("<a@example.org>")), "pass pass");
  EXPECT_EQ(text(s.rcpt("<user@example.org>")), "554 5.7.1 blocked\r\n");
}

TEST_F(BehaviourSession, HeloChangeIsTracedOnceAndTheSameNameAgainIsNot) {
  load(kSmallLimits);
  auto s = start();
  s.connect();
  s.helo("mail.client.example.net");
  s.helo("mail.client.example.net");  // after STARTTLS
  EXPECT_EQ(s.connection().counters.heloCommands, 2u);
  EXPECT_TRUE(s.connection().trace.empty()) << "nothing fired: no trace entries";
  EXPECT_EQ(text(s.helo("spam.example.com")), "pass pass") << "warn is the default";
  EXPECT_EQ(s.connection().counters.previousHelo, "mail.client.example.net");
  ASSERT_EQ(s.connection().trace.size(), 1u);
  EXPECT_EQ(s.connection().trace[0].outcome, "helo_changed");
  EXPECT_EQ(s.connection().trace[0].effect, "reject_warning");
  EXPECT_EQ(s.connection().trace[0].detail,
            "HELO <spam.example.com> after <mail.client.example.net>, 3 HELO/EHLO commands");
  ASSERT_FALSE(logs.empty());
  EXPECT_EQ(logs.back(),
            "behaviour: reject_warning (helo_changed = warn): would reply: 550 5.7.1 "
            "<spam.example.com>: Helo command rejected: HELO name changed within the session (was "
            "<mail.client.example.net>) (behaviour.helo_changed)");
  s.close();
  EXPECT_EQ(logs.back(),
            "NOQUEUE: client=unknown[192.0.2.10] helo=<spam.example.com> "
            "stages=behaviour:helo_changed/reject_warning action=disconnect");
}

TEST_F(BehaviourSession, HeloChangedRejectIsDelayedToRcpt) {
  load("helo_changed = reject\n");
  auto s = start();
  s.connect();
  s.helo("a.example.net");
  EXPECT_EQ(text(s.helo("b.example.net")), "pass pass") << "a 550 is delayed (delay_reject)";
  s.mail("<x@example.org>");
  EXPECT_EQ(text(s.rcpt("<user@example.org>")),
            "550 5.7.1 <b.example.net>: Helo command rejected: HELO name changed within the "
            "session (was <a.example.net>)\r\n");
  EXPECT_EQ(text(s.rcpt("<postmaster@example.org>")), "pass pass");
}

TEST_F(BehaviourSession, ObserveModeLogsThe421AndSendsNothing) {
  load(kSmallLimits + "mode = observe\n");
  auto s = start();
  s.connect();
  s.helo("mail.client.example.net");
  for (int i = 0; i < 4; ++i) {
    s.mail("<a@example.org>");
    s.abort();
  }
  logs.clear();
  EXPECT_EQ(text(s.mail("<a@example.org>")), "pass pass");
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0], "behaviour: tempfail_warning (observe mode): would reply: " +
                         kRsets.substr(0, kRsets.size() - 2) + " (behaviour.too_many_rsets)");
  EXPECT_EQ(s.connection().trace.back().effect, "tempfail_warning");
  // Each later step over a limit is logged again: observe mode shows how often it would fire.
  EXPECT_EQ(text(s.rcpt("<user@example.org>")), "pass pass");
}

// What the engine does today: while a delayed rejection is pending (a connect/HELO/MAIL decision
// repeated at every RCPT), no stage runs at RCPT, so the refused recipients are counted but
// too_many_rejected_recipients is not checked until a transaction without a pending rejection.
// If the engine is changed to let a 421 win over a pending rejection, update this test.
// A client already rejected at HELO (held to RCPT) is still counted: the behaviour stage runs
// while a rejection is pending, and its 421 wins over the held 504.
TEST_F(BehaviourSession, APendingRejectionDoesNotHideTheRecipientCheck) {
  load(kSmallLimits);
  auto scripted = addScripted(true);
  scripted->helo = Decision::reject(
      *Reply::make(504, "5.5.2", "<nofqdn>: Helo command rejected: need fully-qualified hostname"),
      "scripted.non_fqdn");
  auto s = start();
  s.connect();
  s.helo("nofqdn");
  s.mail("<a@example.org>");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(s.rcpt("<user@example.org>").reply->code(), 504) << i;
  EXPECT_EQ(s.connection().counters.rejectedRecipients, 4u);
  EXPECT_EQ(text(s.rcpt("<user@example.org>")),
            "421 4.7.0 mx.example.net Error: too many rejected recipients from 192.0.2.10 (limit "
            "3); closing connection\r\n");
}

}  // namespace
}  // namespace mxguard::testing
