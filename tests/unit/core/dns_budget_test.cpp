// dns_budget_test.cpp - [engine] dns_budget: the sum of a message's DNS waits is capped, each
// lookup gets what is left of it, a spent budget fails lookups at once with a reason that says so,
// and the next message on the connection starts with the whole budget again. Time is a FakeClock
// the silent resolver advances, so the test is exact and waits for nothing.
#include "core/dns_budget.h"

#include <gtest/gtest.h>

#include "core/engine.h"
#include "fakes/function_stage.h"

namespace mxguard {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

TEST(DnsBudget, WithoutALimitEveryTimeoutIsAllowed) {
  DnsBudget b;
  b.charge(std::chrono::seconds(100));
  EXPECT_EQ(b.allow(milliseconds(5000)), milliseconds(5000));
  EXPECT_FALSE(b.spent());
}

TEST(DnsBudget, CutsTheTimeoutToWhatIsLeftThenNothing) {
  DnsBudget b;
  b.setLimit(milliseconds(10000));
  EXPECT_EQ(b.allow(milliseconds(5000)), milliseconds(5000));
  b.charge(milliseconds(7000));
  EXPECT_EQ(b.allow(milliseconds(5000)), milliseconds(3000));
  EXPECT_FALSE(b.spent());
  b.charge(milliseconds(3000));
  EXPECT_TRUE(b.spent());
  EXPECT_EQ(b.allow(milliseconds(5000)), milliseconds(0));
  EXPECT_EQ(b.spentError(), "DNS budget of 10000 ms for this message spent");
  b.restart();
  EXPECT_EQ(b.allow(milliseconds(5000)), milliseconds(5000));
}

// Answers nothing: every lookup waits for its whole timeout (a DNS server that stopped).
class SilentResolver : public dns::Resolver {
 public:
  explicit SilentResolver(FakeClock& clock) : clock_(clock) {}
  std::vector<dns::LookupResult> lookupAll(const std::vector<dns::Query>& qs,
                                           milliseconds timeout) override {
    timeouts.push_back(timeout);
    clock_.steady += timeout;
    return std::vector<dns::LookupResult>(
        qs.size(), dns::LookupResult{dns::LookupStatus::TempFail,
                                     {},
                                     0,
                                     "timed out after " + std::to_string(timeout.count()) + " ms"});
  }
  std::vector<milliseconds> timeouts;

 private:
  FakeClock& clock_;
};

// Looks one name up at HELO and one at MAIL, as the helo and spf stages do, and keeps the errors.
class LookingStage : public Stage {
 public:
  explicit LookingStage(dns::Resolver& r) : resolver_(r) {}
  std::string_view name() const override { return "looking"; }
  Findings onHelo(Connection& tx) const override {
    errors.push_back(cachedLookup(tx, resolver_, {"helo.example", dns::RrType::A}, kTimeout).error);
    return std::nullopt;
  }
  Findings onMail(Connection& tx) const override {
    errors.push_back(
        cachedLookup(tx, resolver_, {tx.message.sender, dns::RrType::MX}, kTimeout).error);
    return std::nullopt;
  }
  static constexpr milliseconds kTimeout{60};
  mutable std::vector<std::string> errors;

 private:
  dns::Resolver& resolver_;
};

TEST(DnsBudget, ASpentBudgetFailsTheMessagesLaterLookupsAtOnce) {
  FakeClock clock;
  Incidents incidents{clock};
  auto resolver = std::make_shared<SilentResolver>(clock);
  auto policy = std::make_shared<Policy>();
  policy->clock = &clock;
  policy->incidents = &incidents;
  policy->resolver = resolver;
  policy->engine.dnsBudget = milliseconds(100);
  auto stage = std::make_shared<LookingStage>(*resolver);
  StageEntry entry;
  entry.stage = stage;
  entry.phases = PhaseSet{Phase::Helo, Phase::Mail};
  policy->stages.push_back(entry);

  Engine s(policy);
  s.connection().client.clientIp = IpAddress::parse("192.0.2.1");
  s.connect();
  s.helo("helo.example");   // waits 60 ms of the 100
  s.mail("first.example");  // waits what is left: 40 ms
  ASSERT_EQ(resolver->timeouts.size(), 2u);
  EXPECT_EQ(resolver->timeouts[0], milliseconds(60));
  EXPECT_EQ(resolver->timeouts[1], milliseconds(40));
  EXPECT_EQ(stage->errors[0], "timed out after 60 ms");
  EXPECT_EQ(stage->errors[1], "timed out after 40 ms");

  // The budget is spent: a second lookup in the same message is not even asked.
  EXPECT_EQ(
      cachedLookup(s.connection(), *resolver, {"other.example", dns::RrType::A}, milliseconds(60))
          .error,
      "DNS budget of 100 ms for this message spent");
  EXPECT_EQ(resolver->timeouts.size(), 2u);

  // The next message on this connection has its whole budget again.
  s.endOfMessage();
  s.mail("second.example");
  ASSERT_EQ(resolver->timeouts.size(), 3u);
  EXPECT_EQ(resolver->timeouts[2], milliseconds(60));
  EXPECT_EQ(stage->errors.back(), "timed out after 60 ms");
}

}  // namespace
}  // namespace mxguard
