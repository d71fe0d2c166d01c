// greylist_engine_test.cpp - the greylist stage in a policy loaded as the daemon loads it, through
// a real Engine and the real in-memory store: per recipient verdicts (one greylisted recipient
// does not defer another's), the retry passing after the delay, and on_failure for a store outage.
#include <gtest/gtest.h>

#include "app/policy_loader.h"
#include "base/log.h"
#include "base/strings.h"
#include "core/engine.h"
#include "fakes/down_store.h"
#include "fakes/fake_resolver.h"
#include "fakes/function_stage.h"
#include "store/memory_store.h"

namespace mxguard::testing {
namespace {

struct GreylistSession : ::testing::Test {
  void SetUp() override {
    setLogSink([this](LogLevel, std::string_view m) { logs.emplace_back(m); });
    clock.wall = std::chrono::system_clock::time_point(std::chrono::seconds(1796600000));
  }
  void TearDown() override { setLogSink(nullptr); }

  void load(const std::string& section, store::StoreSharedPtr s = nullptr) {
    app::PolicyLoadOptions o;
    o.resolver = std::make_shared<FakeResolver>();
    o.store = s ? s : store;
    o.ourHostname = "mx.example.net";
    auto loaded = app::loadPolicyText(
        "[engine]\nstages = greylist\nwhitelist_clients =\n[greylist]\n" + section, "p.conf", o);
    policy = std::make_shared<Policy>(*loaded);
    policy->clock = &clock;
  }
  Engine start() {
    Engine s(policy);
    auto& c = s.connection().client;
    c.clientIp = IpAddress::parse("192.0.2.10");
    c.clientAddress = "192.0.2.10";
    c.ourHostname = "mx.example.net";
    s.connect();
    s.helo("mail.client.example.net");
    return s;
  }
  static std::string text(const Verdict& v) {
    return v.reply ? trimLineEnd(v.reply->toSmtp()) : std::string("pass");
  }
  FakeClock clock;
  store::StoreSharedPtr store = std::make_shared<store::MemoryStore>();
  std::shared_ptr<Policy> policy;
  std::vector<std::string> logs;
};

TEST_F(GreylistSession, OneRecipientGreylistedTheOtherAccepted) {
  load("");
  {
    auto s = start();
    s.mail("<alice@example.org>");
    EXPECT_EQ(text(s.rcpt("<user@example.org>")),
              "451 4.7.1 <user@example.org>: Recipient address rejected: Greylisted: please try "
              "again in 5 minutes");
    EXPECT_EQ(text(s.rcpt("<postmaster@example.org>")), "pass") << "exempt, not deferred";
    EXPECT_EQ(text(s.endOfMessage()), "pass");
    EXPECT_EQ(s.connection().message.recipients,
              std::vector<std::string>{"postmaster@example.org"});
    s.close();
  }
  clock.wall += std::chrono::minutes(6);
  auto s = start();
  s.mail("<alice@example.org>");
  EXPECT_EQ(text(s.rcpt("<user@example.org>")), "pass") << "the retry after the delay";
  EXPECT_EQ(text(s.endOfMessage()), "pass");
  s.close();
  EXPECT_NE(logs.back().find("stages=greylist:passed_retry action=accept"), std::string::npos)
      << logs.back();
}

TEST_F(GreylistSession, AStoreOutageFollowsOnFailure) {
  load("on_failure = accept\n", std::make_shared<testing::GreylistDownStore>());
  {
    auto s = start();
    s.mail("<alice@example.org>");
    EXPECT_EQ(text(s.rcpt("<user@example.org>")), "pass") << "on_failure = accept";
    s.close();
  }
  load("on_failure = tempfail\n", std::make_shared<testing::GreylistDownStore>());
  auto s = start();
  s.mail("<alice@example.org>");
  EXPECT_EQ(text(s.rcpt("<user@example.org>")),
            "451 4.3.0 <user@example.org>: Recipient address rejected: greylisting state "
            "unavailable (connection refused); try again later");
}

}  // namespace
}  // namespace mxguard::testing
