// greylist_stage_test.cpp - the triplet (networks, sender normalisation), and the stage over the
// real in-memory store with an injected clock: first attempt, early retry with the wait shown,
// a retry in the window, after it, auto-allow, IPv6 /64, the null sender, exemptions, a store
// outage and warn mode.
#include <gtest/gtest.h>

#include "fakes/down_store.h"
#include "fakes/function_stage.h"
#include "stage_test_support.h"
#include "stages/greylist/greylist_triplet.h"
#include "store/memory_store.h"

namespace mxguard {
namespace {

using stages::clientNetwork;
using stages::normalizeSender;
using testing::clientTx;
using testing::FakeClock;

TEST(GreylistTriplet, ClientNetworks) {
  EXPECT_EQ(clientNetwork(*IpAddress::parse("192.0.2.77"), 24, 64), "192.0.2.0/24");
  EXPECT_EQ(clientNetwork(*IpAddress::parse("192.0.2.77"), 32, 64), "192.0.2.77/32");
  EXPECT_EQ(clientNetwork(*IpAddress::parse("198.51.100.200"), 20, 64), "198.51.96.0/20");
  EXPECT_EQ(clientNetwork(*IpAddress::parse("2001:db8:1:2:a:b:c:d"), 24, 64), "2001:db8:1:2::/64");
  EXPECT_EQ(clientNetwork(*IpAddress::parse("2001:db8:1:2:a:b:c:d"), 24, 56), "2001:db8:1::/56");
  EXPECT_EQ(clientNetwork(*IpAddress::parse("::ffff:192.0.2.77"), 24, 64), "192.0.2.0/24");
}

TEST(GreylistTriplet, SenderNormalisation) {
  EXPECT_EQ(normalizeSender("", true), "<>");
  EXPECT_EQ(normalizeSender("Alice@Example.ORG", true), "alice@example.org");
  EXPECT_EQ(normalizeSender("prvs=0123abcdef=alice@example.org", true), "alice@example.org");
  EXPECT_EQ(normalizeSender("msprvs1=17843aBcDeF=alice@example.org", true), "alice@example.org");
  EXPECT_EQ(normalizeSender("btv1==0123456789==alice@example.org", true), "alice@example.org");
  EXPECT_EQ(normalizeSender("SRS0=HHH1=TT=example.org=alice@fwd.example", true),
            "srs0=example.org=alice@fwd.example");
  EXPECT_EQ(normalizeSender("SRS0=other=T2=example.org=alice@fwd.example", true),
            "srs0=example.org=alice@fwd.example")
      << "a new hash and timestamp: the same sender";
  EXPECT_EQ(normalizeSender("SRS1=HHH=fwd1.example==HHH=TT=example.org=alice@fwd2.example", true),
            "srs1=fwd1.example==example.org=alice@fwd2.example");
  EXPECT_EQ(normalizeSender("prvs=0123abcdef=alice@example.org", false),
            "prvs=0123abcdef=alice@example.org");
  EXPECT_EQ(normalizeSender("a=b@example.org", true), "a=b@example.org");
}

struct GreylistTest : ::testing::Test {
  FakeClock clock;
  std::shared_ptr<store::Store> store = std::make_shared<store::MemoryStore>();
  StageSharedPtr stage;
  Connection tx = clientTx("192.0.2.10", "mail.client.example.net");

  void SetUp() override {
    clock.wall = std::chrono::system_clock::time_point(std::chrono::seconds(1796600000));
    tx.setClock(clock);
    build("");
  }
  void build(const std::string& section) {
    auto file = config::ConfigFile::parse("[greylist]\n" + section, "test.conf");
    const auto* factory = stages::findStage("greylist");
    stages::StageContext ctx;
    ctx.store = store;
    stage = factory->create(file.section("greylist", factory->options()), ctx);
  }
  void advance(std::chrono::seconds s) { clock.wall += s; }
  Findings rcpt(const std::string& sender, const std::string& recipient) {
    tx.message.sender = sender;
    tx.message.senderSeen = true;
    return stage->onRcpt(tx, recipient);
  }
  static std::string reply(const Decision& d) {
    return std::to_string(d.reply->code()) + " " + d.reply->enhanced() + " " + d.reply->text();
  }
};

TEST_F(GreylistTest, FirstAttemptEarlyRetryRetryInTheWindowAndKnown) {
  auto first = rcpt("alice@example.org", "user@example.org");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->action, Action::Tempfail);
  EXPECT_FALSE(first->dependencyFailure);
  EXPECT_EQ(first->reason, "greylist.greylisted");
  EXPECT_EQ(reply(*first),
            "451 4.7.1 <user@example.org>: Recipient address rejected: Greylisted: please try "
            "again in 5 minutes");
  EXPECT_EQ(first->detail,
            "(192.0.2.0/24, alice@example.org, user@example.org) first attempt; a retry passes "
            "in 5 minutes");

  advance(std::chrono::seconds(100));
  auto early = rcpt("alice@example.org", "user@example.org");
  EXPECT_EQ(reply(*early),
            "451 4.7.1 <user@example.org>: Recipient address rejected: Greylisted: please try "
            "again in 4 minutes");
  EXPECT_NE(early->detail.find("retried too early"), std::string::npos) << early->detail;

  advance(std::chrono::seconds(201));  // 301 s after the first attempt
  auto passed = rcpt("alice@example.org", "user@example.org");
  EXPECT_EQ(passed->action, Action::Pass);
  EXPECT_EQ(passed->reason, "greylist.passed_retry");
  EXPECT_EQ(passed->detail,
            "(192.0.2.0/24, alice@example.org, user@example.org) retried after 301 s");

  advance(std::chrono::hours(24 * 20));
  EXPECT_EQ(rcpt("alice@example.org", "user@example.org")->reason, "greylist.known");
}

TEST_F(GreylistTest, ARetryAfterTheWindowStartsOver) {
  EXPECT_EQ(rcpt("alice@example.org", "user@example.org")->reason, "greylist.greylisted");
  advance(std::chrono::hours(48) + std::chrono::seconds(1));
  auto late = rcpt("alice@example.org", "user@example.org");
  EXPECT_EQ(late->reason, "greylist.greylisted");
  EXPECT_NE(late->detail.find("first attempt"), std::string::npos) << late->detail;
}

TEST_F(GreylistTest, TheNetworkIsAutoAllowedAfterEnoughPasses) {
  build("auto_allow_after = 2\n");
  for (const char* sender : {"a@example.org", "b@example.org"}) {
    EXPECT_EQ(rcpt(sender, "user@example.org")->reason, "greylist.greylisted");
    advance(std::chrono::seconds(301));
    EXPECT_EQ(rcpt(sender, "user@example.org")->reason, "greylist.passed_retry");
  }
  tx.client.clientIp = IpAddress::parse("192.0.2.99");  // same /24, a new sender
  auto next = rcpt("c@example.org", "other@example.org");
  EXPECT_EQ(next->reason, "greylist.auto_allowed");
  EXPECT_EQ(next->detail, "192.0.2.0/24 is auto-allowed");
}

TEST_F(GreylistTest, IPv6RetriesFromTheSame64Pass) {
  tx = clientTx("2001:db8:5:6::10", "mail6.client.example.net");
  tx.setClock(clock);
  EXPECT_EQ(rcpt("alice@example.org", "user@example.org")->reason, "greylist.greylisted");
  tx.client.clientIp = IpAddress::parse("2001:db8:5:6::beef");
  advance(std::chrono::minutes(6));
  auto retry = rcpt("alice@example.org", "user@example.org");
  EXPECT_EQ(retry->reason, "greylist.passed_retry");
  EXPECT_NE(retry->detail.find("2001:db8:5:6::/64"), std::string::npos) << retry->detail;
}

TEST_F(GreylistTest, NullSenderAndTaggedSendersAreOneTriplet) {
  EXPECT_NE(rcpt("", "user@example.org")->detail.find("(192.0.2.0/24, <>, user@example.org)"),
            std::string::npos);
  EXPECT_EQ(rcpt("prvs=1111aaaa=alice@example.org", "user@example.org")->reason,
            "greylist.greylisted");
  advance(std::chrono::minutes(6));
  EXPECT_EQ(rcpt("prvs=2222bbbb=alice@example.org", "user@example.org")->reason,
            "greylist.passed_retry")
      << "the retry of the next message carries a new BATV tag";
}

TEST_F(GreylistTest, TwoRecipientsEachHaveTheirOwnTriplet) {
  EXPECT_EQ(rcpt("alice@example.org", "one@example.org")->reason, "greylist.greylisted");
  advance(std::chrono::minutes(6));
  EXPECT_EQ(rcpt("alice@example.org", "one@example.org")->reason, "greylist.passed_retry");
  EXPECT_EQ(rcpt("alice@example.org", "two@example.org")->reason, "greylist.greylisted")
      << "a recipient not seen before is greylisted; the first keeps its pass";
}

TEST_F(GreylistTest, PoolNetworksAreOneClient) {
  build("pool_networks = 198.51.100.0/22\n");
  tx = clientTx("198.51.100.7", "pool.example.net");
  tx.setClock(clock);
  EXPECT_EQ(rcpt("a@example.org", "user@example.org")->reason, "greylist.greylisted");
  tx.client.clientIp = IpAddress::parse("198.51.103.250");  // another /24 of the pool
  advance(std::chrono::minutes(6));
  auto retry = rcpt("a@example.org", "user@example.org");
  EXPECT_EQ(retry->reason, "greylist.passed_retry");
  EXPECT_NE(retry->detail.find("198.51.100.0/22"), std::string::npos) << retry->detail;
}

TEST_F(GreylistTest, ExemptionsAreNamed) {
  build("exempt_clients = 203.0.113.0/24 .trusted.example\nexempt_spf_domains = bigmail.example\n");
  EXPECT_EQ(rcpt("a@example.org", "postmaster@example.org")->detail,
            "recipient postmaster@ is exempt");
  tx.client.clientName = "mx1.trusted.example";
  EXPECT_EQ(rcpt("a@example.org", "user@example.org")->detail, "client matches .trusted.example");
  tx.client.clientName = "unknown";
  tx.message.authResults = {{"spf", "pass", "", {{"smtp.mailfrom", "b@out.bigmail.example"}}}};
  auto spf = rcpt("b@out.bigmail.example", "user@example.org");
  EXPECT_EQ(spf->reason, "greylist.exempt");
  EXPECT_EQ(spf->detail, "SPF passes for out.bigmail.example (exempt_spf_domains bigmail.example)");
  tx.message.authResults = {{"spf", "softfail", "", {{"smtp.mailfrom", "b@out.bigmail.example"}}}};
  EXPECT_EQ(rcpt("b@out.bigmail.example", "user@example.org")->reason, "greylist.greylisted");
  tx.client.authUser = "alice";
  EXPECT_EQ(rcpt("x@example.org", "user@example.org")->detail, "authenticated as alice");
}

TEST_F(GreylistTest, AStoreOutageIsADependencyFailure) {
  store = std::make_shared<testing::GreylistDownStore>();
  build("");
  auto f = rcpt("alice@example.org", "user@example.org");
  EXPECT_EQ(f->action, Action::Tempfail);
  EXPECT_TRUE(f->dependencyFailure);
  EXPECT_EQ(f->reason, "greylist.store_failure");
  EXPECT_EQ(reply(*f),
            "451 4.3.0 <user@example.org>: Recipient address rejected: greylisting state "
            "unavailable (connection refused); try again later");
}

TEST_F(GreylistTest, WarnModeReportsButDoesNotDefer) {
  build("greylisted = warn\n");
  auto f = rcpt("alice@example.org", "user@example.org");
  EXPECT_EQ(f->action, Action::Tempfail);
  EXPECT_EQ(f->mode, CheckMode::Warn);
}

TEST_F(GreylistTest, DelayZeroLetsTheFirstAttemptPass) {
  build("delay = 0s\nauto_allow_after = 1\n");
  auto first = rcpt("alice@example.org", "user@example.org");
  EXPECT_EQ(first->reason, "greylist.passed_retry");
  EXPECT_NE(first->detail.find("the network is now auto-allowed"), std::string::npos)
      << first->detail;
  EXPECT_EQ(rcpt("bob@example.org", "user@example.org")->reason, "greylist.auto_allowed");
}

TEST(GreylistConfig, BadValuesNameTheOption) {
  EXPECT_NE(
      testing::configError("greylist", "retry_window = 1m\ndelay = 5m\n").find("retry_window"),
      std::string::npos);
  EXPECT_NE(
      testing::configError("greylist", "reply_greylisted = 550 5.7.1 no\n").find("must be 4xx"),
      std::string::npos);
  EXPECT_NE(testing::configError("greylist", "pool_networks = 10.0.0.0/99\n").find("pool_networks"),
            std::string::npos);
}

}  // namespace
}  // namespace mxguard
