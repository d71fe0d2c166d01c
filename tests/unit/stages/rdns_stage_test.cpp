// rdns_stage_test.cpp - PTR present, forward-confirmed, dynamic names; failures are 450 4.7.25.
#include "stages/rdns/rdns_stage.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace mxguard::testing
