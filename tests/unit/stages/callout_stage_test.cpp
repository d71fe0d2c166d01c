// callout_stage_test.cpp - sender verification with a scripted probe, the real in-memory store
// and a FakeResolver: every outcome's exact reply, the cache ("(cached)", no second probe),
// accept-all domains, null MX, MX order, refused targets, single-flight, a store that is down, a
// probe that throws, and probe caps and single-flight that outlive a reload.
#include "stages/callout/callout_stage.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <stdexcept>
#include <thread>

#include "fakes/fake_smtp_probe.h"
#include "stage_test_support.h"
#include "store/memory_store.h"

namespace mxguard::testing {
namespace {

using dns::RrType;
using smtp::ProbeOutcome;

class DownStore : public store::Store {
 public:
  store::StoreResult get(const std::string&) override {
    return {store::StoreStatus::Unavailable, "", "connect: Connection refused"};
  }
  store::StoreResult set(const std::string&, const std::string&, std::chrono::seconds) override {
    return {store::StoreStatus::Unavailable, "", "connect: Connection refused"};
  }
  store::TokenResult takeToken(const std::string&, double, double, double) override { return {}; }
  store::GreylistResult greylist(const store::GreylistKeys&, const store::GreylistTimes&) override {
    store::GreylistResult r;  // Unavailable
    r.error = "connect: Connection refused";
    return r;
  }
  std::string describe() const override { return "down"; }
};

struct CalloutTest : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
  std::shared_ptr<FakeSmtpProbe> probe = std::make_shared<FakeSmtpProbe>();
  std::shared_ptr<store::Store> store = std::make_shared<store::MemoryStore>();
  // Null: the process-wide coordinator, as the policy loader leaves it.
  std::shared_ptr<stages::CalloutProbes> probes;

  void SetUp() override {
    dns->answer("sender.example", RrType::MX, {"20 mx2.sender.example", "10 mx1.sender.example"})
        .answer("mx1.sender.example", RrType::A, {"198.51.100.1"})
        .answer("mx2.sender.example", RrType::A, {"198.51.100.2"});
  }
  StageSharedPtr stage(const std::string& config = "") {
    auto file = config::ConfigFile::parse("[callout]\n" + config, "test.conf");
    const auto* factory = stages::findStage("callout");
    stages::StageContext ctx;
    ctx.resolver = dns;
    ctx.store = store;
    ctx.probe = probe;
    ctx.ourHostname = "mx.example.net";
    ctx.calloutProbes = probes;
    return factory->create(file.section("callout", factory->options()), ctx);
  }
  Findings check(const StageSharedPtr& s, const std::string& sender) {
    auto tx = clientTx("203.0.113.9", "mail.sender.example");
    tx.message.sender = sender;
    auto found = s->onMail(tx);  // the callout reports one finding per check
    if (!found) return std::nullopt;
    return *found;
  }
};

TEST_F(CalloutTest, RejectedAddressQuotesTheRemoteAndIsCached) {
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550,
                {"5.1.1 <bob@sender.example>: Recipient address rejected: User unknown"});
  auto s = stage();
  auto d = check(s, "bob@sender.example");
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.1.7 <bob@sender.example>: Sender address rejected: undeliverable address: host "
            "mx1.sender.example[198.51.100.1] said: 550 5.1.1 <bob@sender.example>: Recipient "
            "address rejected: User unknown (in reply to RCPT TO command)\r\n");
  EXPECT_EQ(d->reason, "callout.reject");
  EXPECT_NE(d->detail.find("dialogue: connect mx1.sender.example[198.51.100.1]:25"),
            std::string::npos);

  auto again = check(s, "Bob@Sender.Example");
  ASSERT_TRUE(again && again->reply);
  EXPECT_EQ(probe->probes, 1) << "the second check must come from the cache";
  EXPECT_EQ(again->reason, "callout.cached_reject");
  EXPECT_EQ(again->detail.substr(0, 9), "(cached) ");
  std::string text = again->reply->text();
  EXPECT_EQ(text.substr(0, text.find("; cached result")),
            "<Bob@Sender.Example>: Sender address rejected: undeliverable address: host "
            "mx1.sender.example[198.51.100.1] said: 550 5.1.1 <bob@sender.example>: Recipient "
            "address rejected: User unknown (in reply to RCPT TO command)");
  EXPECT_NE(text.find("; cached result of a probe at 20"), std::string::npos) << text;
}

TEST_F(CalloutTest, AcceptedAddressPassesAndIsCached) {
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  auto s = stage();
  EXPECT_EQ(check(s, "alice@sender.example")->reason, "callout.accept");
  EXPECT_EQ(check(s, "alice@sender.example")->reason, "callout.cached_accept");
  EXPECT_EQ(probe->probes, 1);
  EXPECT_EQ(probe->lastRandom.substr(0, 8), "mxguard-");
}

TEST_F(CalloutTest, AcceptAllDomainMakesAddressesUnverifiable) {
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", true);
  auto s = stage();
  auto d = check(s, "anyone@sender.example");
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->reason, "callout.accept_all");
  auto other = check(s, "someone.else@sender.example");
  EXPECT_EQ(other->reason, "callout.cached_accept_all");
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, GreylistingIsUnverifiedNeverA5xxAndNotHammered) {
  probe->script("198.51.100.1", ProbeOutcome::TempFailed, 450,
                {"4.7.1 <carol@sender.example>: Recipient address rejected: Greylisted"});
  auto s = stage();
  auto d = check(s, "carol@sender.example");
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <carol@sender.example>: Sender address rejected: unverified address: host "
            "mx1.sender.example[198.51.100.1] said: 450 4.7.1 <carol@sender.example>: Recipient "
            "address rejected: Greylisted (in reply to RCPT TO command)\r\n");
  auto again = check(s, "carol@sender.example");
  EXPECT_EQ(again->reason, "callout.cached_unverified");
  EXPECT_EQ(again->reply->code(), 450);
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, UnreachablePrimaryFallsBackToTheNextMxInPreferenceOrder) {
  probe->script("198.51.100.1", ProbeOutcome::Unreachable, 0, {});
  probe->script("198.51.100.2", ProbeOutcome::Rejected, 550, {"5.1.1 no such user"});
  auto d = check(stage(), "dave@sender.example");
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_NE(
      d->reply->text().find("host mx2.sender.example[198.51.100.2] said: 550 5.1.1 no such user"),
      std::string::npos);
  EXPECT_EQ(probe->probes, 2);
}

TEST_F(CalloutTest, NoReachableServerIsUnverified) {
  probe->script("198.51.100.1", ProbeOutcome::Unreachable, 0, {});
  probe->script("198.51.100.2", ProbeOutcome::Unreachable, 0, {});
  auto d = check(stage(), "erin@sender.example");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <erin@sender.example>: Sender address rejected: unverified address: host "
            "mx2.sender.example[198.51.100.2]: connect timed out (at RCPT TO)\r\n");
}

TEST_F(CalloutTest, NullMxDomainNotFoundAndImplicitMx) {
  dns->answer("nomail.example", RrType::MX, {"0 "});
  EXPECT_EQ(
      check(stage(), "x@nomail.example")->reply->toSmtp(),
      "550 5.7.27 <x@nomail.example>: Sender address rejected: Domain nomail.example does not "
      "accept mail (null MX, RFC 7505)\r\n");
  dns->nxdomain("gone.example", RrType::MX);
  auto nx = check(stage(), "x@gone.example");
  EXPECT_EQ(nx->action, Action::Tempfail);
  EXPECT_EQ(nx->reply->toSmtp(),
            "450 4.1.8 <x@gone.example>: Sender address rejected: Domain not found\r\n");
  dns->nodata("plain.example", RrType::MX).answer("plain.example", RrType::A, {"198.51.100.7"});
  probe->script("198.51.100.7", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  EXPECT_EQ(check(stage(), "x@plain.example")->reason, "callout.accept");
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, ADotNextToRealMxHostsIsNoNullMx) {
  dns->answer("mixed.example", RrType::MX, {"0 .", "10 mx1.sender.example"});
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  EXPECT_EQ(check(stage(), "x@mixed.example")->reason, "callout.accept");
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, NonPublicTargetsAreRefusedUnlessAllowed) {
  dns->answer("lan.example", RrType::MX, {"10 mx.lan.example"})
      .answer("mx.lan.example", RrType::A, {"10.1.2.3"});
  auto d = check(stage(), "x@lan.example");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <x@lan.example>: Sender address rejected: unverified address: mail server "
            "mx.lan.example[10.1.2.3] is not a public address\r\n");
  EXPECT_EQ(probe->probes, 0);
  probe->script("10.1.2.3", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  EXPECT_EQ(check(stage("allow_private = yes\n"), "y@lan.example")->reason, "callout.accept");
}

TEST_F(CalloutTest, EveryNonPublicRangeIsRefused) {
  // Loopback, RFC 1918, link-local, CGNAT, this-network, multicast, IPv4-mapped loopback (folded
  // to IPv4), IPv6 loopback, unspecified, unique-local, link-local and multicast.
  const char* targets[] = {"127.0.0.1",   "10.0.0.1",       "172.16.0.1", "172.31.255.254",
                           "192.168.1.1", "169.254.1.1",    "100.64.0.1", "0.0.0.0",
                           "224.0.0.1",   "255.255.255.255"};
  for (const char* a : targets) {
    dns->answer("mx.lan.example", RrType::A, {a})
        .answer("lan.example", RrType::MX, {"10 mx.lan.example"});
    auto d = check(stage(), std::string("v4@lan.example"));
    ASSERT_TRUE(d && d->reply) << a;
    EXPECT_NE(d->reply->text().find("is not a public address"), std::string::npos) << a;
  }
  const char* targets6[] = {"::1", "::", "::ffff:127.0.0.1", "fd00::1", "fe80::1", "ff02::1"};
  for (const char* a : targets6) {
    dns->answer("mx6.lan.example", RrType::AAAA, {a})
        .nodata("mx6.lan.example", RrType::A)
        .answer("lan6.example", RrType::MX, {"10 mx6.lan.example"});
    auto d = check(stage(), std::string("v6@lan6.example"));
    ASSERT_TRUE(d && d->reply) << a;
    EXPECT_NE(d->reply->text().find("is not a public address"), std::string::npos) << a;
  }
  EXPECT_EQ(probe->probes, 0);
}

TEST_F(CalloutTest, ProbesToOneDomainAreRateCapped) {
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  auto s = stage("max_probes_per_domain_per_minute = 3\n");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(check(s, "user" + std::to_string(i) + "@sender.example")->reason, "callout.accept");
  auto d = check(s, "user3@sender.example");
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "callout.rate");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <user3@sender.example>: Sender address rejected: unverified address: too "
            "many verification probes to sender.example in the last minute; try again in 20 "
            "seconds\r\n");
  EXPECT_EQ(probe->probes, 3);
  // Cached answers cost no probe and are not capped; other domains have their own budget.
  EXPECT_EQ(check(s, "user0@sender.example")->reason, "callout.cached_accept");
  dns->nodata("other.example", RrType::MX).answer("other.example", RrType::A, {"198.51.100.1"});
  EXPECT_EQ(check(s, "x@other.example")->reason, "callout.accept");
}

TEST_F(CalloutTest, NoProbeForNullSenderOrSkippedDomains) {
  EXPECT_EQ(check(stage(), "")->reason, "callout.skip");
  EXPECT_EQ(
      check(stage("skip_domains = sender.example partner.example\n"), "a@sender.example")->reason,
      "callout.skip");
  EXPECT_EQ(probe->probes, 0);
}

TEST_F(CalloutTest, NullSenderRefusedFollowsThePolicy) {
  probe->script("198.51.100.1", ProbeOutcome::NullSenderRefused, 550, {"5.7.1 <>: no bounces here"},
                "MAIL FROM");
  EXPECT_EQ(check(stage(), "f@sender.example")->action, Action::Pass);
  store = std::make_shared<store::MemoryStore>();
  auto d = check(stage("on_null_sender_refused = reject\n"), "f@sender.example");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.1 <f@sender.example>: Sender address rejected: host "
            "mx1.sender.example[198.51.100.1] refuses the null sender (RFC 5321 4.5.5), so the "
            "address cannot be verified: 550 5.7.1 <>: no bounces here\r\n");
}

TEST_F(CalloutTest, StoreDownIsADependencyFailure) {
  store = std::make_shared<DownStore>();
  auto d = check(stage(), "g@sender.example");
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "callout.store_failure");
  EXPECT_EQ(d->reply->code(), 450);
  EXPECT_EQ(probe->probes, 0);
}

TEST_F(CalloutTest, ConcurrentChecksOfOneAddressShareOneProbe) {
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550, {"5.1.1 unknown"});
  probe->delay = std::chrono::milliseconds(200);
  auto s = stage();
  std::vector<std::thread> threads;
  std::atomic<int> rejected{0};
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      auto d = check(s, "h@sender.example");
      if (d && d->action == Action::Reject) ++rejected;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(rejected, 6);
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, AProbeThatThrowsLeavesNoFlightAndNoCapSlotBehind) {
  // A probe that throws (a bug, memory exhaustion) used to stay "in flight" for good: every later
  // check of the address joined it and waited out its whole deadline, and its cap slot was lost.
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550, {"5.1.1 unknown"});
  std::atomic<bool> explode{true};
  probe->onProbe = [&](const std::string&) {
    if (explode.exchange(false)) throw std::runtime_error("probe exploded");
  };
  auto s = stage("max_probes = 1\nprobe_timeout = 30s\n");
  Findings d;
  EXPECT_NO_THROW(d = check(s, "t@sender.example"));
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "callout.internal_error");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <t@sender.example>: Sender address rejected: unverified address: the "
            "verification probe failed internally\r\n");
  EXPECT_NE(d->detail.find("probe exploded"), std::string::npos) << d->detail;

  // The same address again: a fresh probe at once (nothing was cached), not a wait of 30 s or
  // more for the dead one.
  auto start = std::chrono::steady_clock::now();
  auto again = check(s, "t@sender.example");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->reason, "callout.reject");
  // Its slot was released: with one probe allowed in all, another address is probed.
  EXPECT_EQ(check(s, "u@sender.example")->reason, "callout.reject");
  EXPECT_EQ(probe->probes, 3);
}

// Polls `condition` (another thread's progress) for up to 30 s.
bool eventually(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST_F(CalloutTest, ACheckWaitingForAProbeThatThrowsIsToldAtOnce) {
  probes = std::make_shared<stages::CalloutProbes>();
  std::latch started{1}, release{1};
  probe->onProbe = [&](const std::string&) {
    started.count_down();
    release.wait();
    throw std::runtime_error("probe exploded");
  };
  auto s = stage("probe_timeout = 30s\n");
  Findings leader;
  std::thread leading([&] { leader = check(s, "w@sender.example"); });
  started.wait();
  Findings waiter;
  auto waited = std::chrono::steady_clock::duration::max();
  std::thread waiting([&] {
    auto start = std::chrono::steady_clock::now();
    waiter = check(s, "W@sender.example");
    waited = std::chrono::steady_clock::now() - start;
  });
  EXPECT_TRUE(eventually([&] { return probes->sharers("w@sender.example") == 1; }));
  release.count_down();
  leading.join();
  waiting.join();
  ASSERT_TRUE(leader && waiter && waiter->reply);
  EXPECT_EQ(leader->reason, "callout.internal_error");
  EXPECT_LT(waited, std::chrono::seconds(5)) << "the waiter must not wait out its 45 s deadline";
  EXPECT_EQ(waiter->action, Action::Tempfail);
  EXPECT_TRUE(waiter->dependencyFailure);
  EXPECT_EQ(waiter->reason, "callout.internal_error");
  EXPECT_EQ(waiter->reply->toSmtp(),
            "450 4.1.7 <W@sender.example>: Sender address rejected: unverified address: the "
            "verification probe failed internally\r\n");
  EXPECT_EQ(probe->probes, 1);
  EXPECT_EQ(probes->running(), 0u);
}

TEST_F(CalloutTest, ProbesInFlightStayCountedAcrossAReload) {
  // A reload (SIGHUP) builds a new stage from the new policy while connections on the old policy
  // still probe: both must count against one set of caps and share one probe per address.
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550, {"5.1.1 unknown"});
  dns->nodata("elsewhere.example", RrType::MX)
      .answer("elsewhere.example", RrType::A, {"198.51.100.1"});
  std::latch started{1}, release{1};
  std::atomic<bool> first{true};
  probe->onProbe = [&](const std::string&) {
    if (!first.exchange(false)) return;
    started.count_down();
    release.wait();
  };
  auto before = stage("max_probes = 1\n");
  auto after = stage("max_probes = 1\ntempfail_ttl = 10m\n");
  Findings held;
  std::thread holder([&] { held = check(before, "h@sender.example"); });
  started.wait();
  auto sameDomain = check(after, "other@sender.example");
  auto otherDomain = check(after, "x@elsewhere.example");
  // The same address from the new policy joins the old policy's probe.
  Findings joined;
  std::thread joining([&] { joined = check(after, "h@sender.example"); });
  EXPECT_TRUE(eventually(
      [&] { return stages::CalloutStage::processProbes()->sharers("h@sender.example") == 1; }));
  release.count_down();
  holder.join();
  joining.join();
  ASSERT_TRUE(sameDomain && otherDomain && held && joined);
  EXPECT_EQ(sameDomain->reason, "callout.busy");
  EXPECT_EQ(otherDomain->reason, "callout.busy");
  EXPECT_EQ(held->reason, "callout.reject");
  EXPECT_EQ(joined->reason, "callout.reject") << "shared, not a second probe nor the cache";
  EXPECT_EQ(probe->probes, 1);
  EXPECT_EQ(stages::CalloutStage::processProbes()->running(), 0u);

  // Limits come from each stage's own policy: raised by the reload, they admit more probes while
  // one is still in flight under the old ones.
  std::latch started2{1}, release2{1};
  probe->onProbe = [&](const std::string& address) {
    if (address != "198.51.100.1") return;
    started2.count_down();
    release2.wait();
  };
  dns->nodata("third.example", RrType::MX).answer("third.example", RrType::A, {"198.51.100.3"});
  probe->script("198.51.100.3", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  auto raised = stage("max_probes = 2\n");
  std::thread holder2([&] { held = check(before, "i@sender.example"); });
  started2.wait();
  EXPECT_EQ(check(before, "y@third.example")->reason, "callout.busy");
  EXPECT_EQ(check(raised, "z@third.example")->reason, "callout.accept");
  release2.count_down();
  holder2.join();
  EXPECT_EQ(held->reason, "callout.reject");
}

TEST(CalloutConfig, UnverifiedReplyMustBe4xx) {
  auto file =
      config::ConfigFile::parse("[callout]\nreply_unverified = 550 5.1.7 no\n", "test.conf");
  const auto* factory = stages::findStage("callout");
  stages::StageContext ctx;
  ctx.store = std::make_shared<store::MemoryStore>();
  try {
    factory->create(file.section("callout", factory->options()), ctx);
    FAIL();
  } catch (const config::ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "test.conf:2: callout.reply_unverified: an unverified address must get a 4xx "
                 "reply, not 550");
  }
}

}  // namespace
}  // namespace mxguard::testing
