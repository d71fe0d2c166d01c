// behaviour_stage_test.cpp - each behaviour check at and over its limit with the exact reply, warn
// and off, load errors with file:line:option (through a real Engine and a loaded policy:
// tests/unit/app/behaviour_engine_test.cpp).
#include "stages/behaviour/behaviour_stage.h"

#include <gtest/gtest.h>

#include "base/log.h"
#include "behaviour_replies.h"
#include "stage_test_support.h"

namespace mxguard::testing {
namespace {

std::string smtp(const Findings& d) {
  if (!d) return "nothing";
  return d->reply ? d->reply->toSmtp() : "no reply: " + d->reason + " " + d->detail;
}

struct BehaviourTest : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
  StageSharedPtr stage(const std::string& section = kSmallLimits) {
    return buildStage("behaviour", section, dns);
  }
  Connection tx = clientTx("192.0.2.10", "mail.client.example.net");
};

TEST_F(BehaviourTest, TooManyRsetsAtAndOverTheLimit) {
  auto s = stage();
  tx.counters.abortedTransactions = 3;
  tx.counters.messages = 3;
  EXPECT_FALSE(s->onMail(tx)) << "3 aborted transactions are within a limit of 3";
  tx.counters.abortedTransactions = 4;
  auto d = s->onMail(tx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_EQ(smtp(d), kRsets);
  EXPECT_EQ(d->reply->code(), 421);
  EXPECT_EQ(d->reply->enhanced(), "4.7.0");
  EXPECT_EQ(d->reason, "behaviour.too_many_rsets");
  EXPECT_EQ(d->detail, "4 aborted transactions, limit 3");
  EXPECT_FALSE(d->dependencyFailure) << "a limit is policy, not a dependency failure";
}

TEST_F(BehaviourTest, TooManyMessagesAtAndOverTheLimit) {
  auto s = stage();
  tx.counters.messages = 3;  // this MAIL FROM is the third
  EXPECT_FALSE(s->onMail(tx));
  tx.counters.messages = 4;
  auto d = s->onMail(tx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_EQ(smtp(d), kMessages);
  EXPECT_EQ(d->reason, "behaviour.too_many_messages");
  EXPECT_EQ(d->detail, "4 messages, limit 3");
}

TEST_F(BehaviourTest, TooManyRejectedRecipientsAtAndOverTheLimit) {
  auto s = stage();
  tx.counters.rejectedRecipients = 3;
  EXPECT_FALSE(s->onRcpt(tx, "user@example.org"));
  tx.counters.rejectedRecipients = 4;
  auto d = s->onRcpt(tx, "user@example.org");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_EQ(smtp(d), kRejected);
  EXPECT_EQ(d->reason, "behaviour.too_many_rejected_recipients");
  EXPECT_EQ(d->detail, "4 rejected recipients, limit 3");
}

TEST_F(BehaviourTest, DefaultLimitsAreTwentyTwentyAndAHundred) {
  auto s = stage("");
  tx.counters.abortedTransactions = 20;
  tx.counters.messages = 100;
  tx.counters.rejectedRecipients = 20;
  EXPECT_FALSE(s->onMail(tx));
  EXPECT_FALSE(s->onRcpt(tx, "u@example.org"));
  tx.counters.abortedTransactions = 21;
  EXPECT_EQ(smtp(s->onMail(tx)),
            "421 4.7.0 mx.example.net Error: too many RSET commands from 192.0.2.10 (limit 20); "
            "closing connection\r\n");
  tx.counters.abortedTransactions = 0;
  tx.counters.messages = 101;
  EXPECT_EQ(smtp(s->onMail(tx)),
            "421 4.7.0 mx.example.net Error: too many messages in one connection from 192.0.2.10 "
            "(limit 100); closing connection\r\n");
  tx.counters.rejectedRecipients = 21;
  EXPECT_EQ(smtp(s->onRcpt(tx, "u@example.org")),
            "421 4.7.0 mx.example.net Error: too many rejected recipients from 192.0.2.10 (limit "
            "20); closing connection\r\n");
}

TEST_F(BehaviourTest, HeloChangedWarnsByDefault) {
  auto s = stage("");
  tx.client.helo = "other.example.com";
  tx.counters.previousHelo = "mail.client.example.net";
  tx.counters.heloCommands = 2;
  auto d = s->onHelo(tx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->mode, CheckMode::Warn);  // the engine logs it and goes on
  EXPECT_EQ(d->check, "helo_changed");
  EXPECT_EQ(d->reason, "behaviour.helo_changed");
  EXPECT_EQ(smtp(d),
            "550 5.7.1 <other.example.com>: Helo command rejected: HELO name changed within the "
            "session (was <mail.client.example.net>)\r\n");
  EXPECT_EQ(d->detail,
            "HELO <other.example.com> after <mail.client.example.net>, 2 HELO/EHLO commands");
}

TEST_F(BehaviourTest, HeloChangedRejectsWhenSetTo) {
  auto s = stage("helo_changed = reject\n");
  tx.client.helo = "other.example.com";
  tx.counters.previousHelo = "mail.client.example.net";
  tx.counters.heloCommands = 2;
  auto d = s->onHelo(tx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_EQ(smtp(d),
            "550 5.7.1 <other.example.com>: Helo command rejected: HELO name changed within the "
            "session (was <mail.client.example.net>)\r\n");
  EXPECT_EQ(d->reason, "behaviour.helo_changed");
}

TEST_F(BehaviourTest, TheSameHeloAgainIsNormal) {
  auto s = stage("helo_changed = reject\n");
  tx.counters.heloCommands = 1;
  EXPECT_FALSE(s->onHelo(tx)) << "first HELO: nothing to compare with";
  tx.counters.heloCommands = 2;
  for (const char* again :
       {"mail.client.example.net", "MAIL.Client.Example.NET", "mail.client.example.net."}) {
    tx.counters.previousHelo = "mail.client.example.net";
    tx.client.helo = again;
    EXPECT_FALSE(s->onHelo(tx)) << again << " (re-EHLO after STARTTLS)";
  }
  tx.client.helo = "mail2.client.example.net";
  EXPECT_TRUE(s->onHelo(tx)) << "and a different name is caught by the same stage";
}

TEST_F(BehaviourTest, ALongHeloIsShortenedInTheReply) {
  auto s = stage("helo_changed = reject\n");
  tx.counters.previousHelo = std::string(300, 'a');
  tx.client.helo = "b\r\nRSET";
  tx.counters.heloCommands = 2;
  EXPECT_EQ(smtp(s->onHelo(tx)),
            "550 5.7.1 <b??RSET>: Helo command rejected: HELO name changed within the session (was "
            "<" +
                std::string(64, 'a') + "...>)\r\n");
}

TEST_F(BehaviourTest, WarnPassesWithTheWouldBeReply) {
  auto s = stage(kSmallLimits + "too_many_rsets = warn\ntoo_many_rejected_recipients = warn\n");
  tx.counters.abortedTransactions = 4;
  auto d = s->onMail(tx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->mode, CheckMode::Warn);
  EXPECT_EQ(d->reason, "behaviour.too_many_rsets");
  EXPECT_EQ(smtp(d), kRsets);
  EXPECT_EQ(d->detail, "4 aborted transactions, limit 3");
  tx.counters.rejectedRecipients = 4;
  auto r = s->onRcpt(tx, "u@example.org");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mode, CheckMode::Warn);
  EXPECT_EQ(r->reason, "behaviour.too_many_rejected_recipients");
}

TEST_F(BehaviourTest, AWarningDoesNotHideALaterRejection) {
  auto s = stage(kSmallLimits + "too_many_rsets = warn\n");
  tx.counters.abortedTransactions = 4;
  tx.counters.messages = 4;
  auto d = s->onMail(tx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, "behaviour.too_many_messages");
  EXPECT_EQ(smtp(d), kMessages);
}

TEST_F(BehaviourTest, TwoWarningsAreTwoFindingsInCheckOrder) {
  auto s = stage(kSmallLimits + "too_many_rsets = warn\ntoo_many_messages = warn\n");
  tx.counters.abortedTransactions = 4;
  tx.counters.messages = 5;
  auto d = s->onMail(tx);
  ASSERT_EQ(d.items().size(), 2u);
  EXPECT_EQ(d.items()[0].reason, "behaviour.too_many_rsets");
  EXPECT_EQ(d.items()[0].mode, CheckMode::Warn);
  EXPECT_EQ(d.items()[0].reply->toSmtp(), kRsets);
  EXPECT_EQ(d.items()[1].reason, "behaviour.too_many_messages");
  EXPECT_EQ(d.items()[1].mode, CheckMode::Warn);
  EXPECT_EQ(d.items()[1].reply->toSmtp(), kMessages);
  EXPECT_EQ(d.items()[1].detail, "5 messages, limit 3");
}

TEST_F(BehaviourTest, RsetsAreCheckedBeforeMessages) {
  auto s = stage();
  tx.counters.abortedTransactions = 4;
  tx.counters.messages = 4;
  EXPECT_EQ(smtp(s->onMail(tx)), kRsets);
}

TEST_F(BehaviourTest, OffChecksNeverFire) {
  auto s = stage(kSmallLimits +
                 "too_many_rsets = off\ntoo_many_rejected_recipients = off\nhelo_changed = off\n"
                 "too_many_messages = off\n");
  tx.counters.abortedTransactions = 1000;
  tx.counters.messages = 1000;
  tx.counters.rejectedRecipients = 1000;
  tx.counters.previousHelo = "a.example.net";
  tx.counters.heloCommands = 2;
  EXPECT_FALSE(s->onHelo(tx));
  EXPECT_FALSE(s->onMail(tx));
  EXPECT_FALSE(s->onRcpt(tx, "u@example.org"));
}

TEST_F(BehaviourTest, TemplatesGetEveryVariable) {
  auto s = stage(
      "max_rsets = 1\nreply_too_many_rsets = 421 4.7.0 ${our_hostname} ${client_name} "
      "[${client_address}] <${helo_name}> <${previous_helo}> <${sender}> ${count}/${limit}\n");
  tx.client.clientName = "mail.client.example.net";
  tx.counters.previousHelo = "old.example.net";
  tx.message.sender = "bulk@example.org";
  tx.counters.abortedTransactions = 7;
  EXPECT_EQ(smtp(s->onMail(tx)),
            "421 4.7.0 mx.example.net mail.client.example.net [192.0.2.10] "
            "<mail.client.example.net> <old.example.net> <bulk@example.org> 7/1\r\n");
}

TEST_F(BehaviourTest, OurHostnameFallsBackToTheConfiguredName) {
  auto s = stage();
  tx.client.ourHostname = "";  // the MTA sent no macro j
  tx.counters.abortedTransactions = 4;
  EXPECT_EQ(smtp(s->onMail(tx)), kRsets);  // buildStage's ourHostname is mx.example.net
}

TEST_F(BehaviourTest, AFiveHundredTemplateRejectsPermanently) {
  auto s = stage("max_rsets = 1\nreply_too_many_rsets = 550 5.7.1 Too many RSET commands\n");
  tx.counters.abortedTransactions = 2;
  auto d = s->onMail(tx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_EQ(smtp(d), "550 5.7.1 Too many RSET commands\r\n");
}

TEST(BehaviourConfig, ErrorsNameFileLineAndOption) {
  EXPECT_EQ(configError("behaviour", "max_rsets = 0\n"),
            "test.conf:2: behaviour.max_rsets: value 0 is below the minimum 1");
  EXPECT_EQ(configError("behaviour", "\nmax_rejected_recipients = -5\n"),
            "test.conf:3: behaviour.max_rejected_recipients: value -5 is below the minimum 1");
  EXPECT_EQ(configError("behaviour", "max_messages_per_connection = 10001\n"),
            "test.conf:2: behaviour.max_messages_per_connection: value 10001 is above the maximum "
            "10000");
  EXPECT_EQ(configError("behaviour", "max_rsets = 99999999999999999999\n"),
            "test.conf:2: behaviour.max_rsets: invalid number '99999999999999999999'");
  EXPECT_EQ(configError("behaviour", "max_rsets = ten\n"),
            "test.conf:2: behaviour.max_rsets: invalid number 'ten'");
  EXPECT_EQ(
      configError("behaviour", "too_many_rsets = maybe\n"),
      "test.conf:2: behaviour.too_many_rsets: invalid value 'maybe' (use reject, warn or off)");
  EXPECT_EQ(configError("behaviour", "reply_too_many_messages = 421 4.7.0 ${rcpt} too many\n"),
            "test.conf:2: behaviour.reply_too_many_messages: unknown variable ${rcpt}; known "
            "variables: client_address, client_name, count, helo_name, limit, our_hostname, "
            "previous_helo, sender");
  EXPECT_EQ(configError("behaviour", "reply_helo_changed = 550 4.7.1 mismatch\n"),
            "test.conf:2: behaviour.reply_helo_changed: enhanced status code 4.7.1 does not "
            "match reply code 550 (the class must be 5)");
  // A limit within bounds is accepted: the bounds are 1..10000 inclusive.
  EXPECT_EQ(configError("behaviour", "max_rsets = 1\nmax_messages_per_connection = 10000\n"),
            "no error");
}

}  // namespace
}  // namespace mxguard::testing
