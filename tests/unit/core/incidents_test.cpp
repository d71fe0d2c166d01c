// incidents_test.cpp - one log line when a stage's dependency starts failing, silence while it
// keeps failing, one line when it has recovered (after the quiet period), and a new incident
// after that; successes of other stages or too soon after a failure end nothing.
#include "core/incidents.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/log.h"
#include "fakes/function_stage.h"

namespace mxguard {
namespace {

using testing::FakeClock;

// Each test has its own Incidents and clock: nothing is shared with other tests.
struct IncidentsTest : ::testing::Test {
  std::vector<std::string> logs;
  FakeClock clock;
  Incidents incidents{clock};
  void SetUp() override {
    setLogSink([this](LogLevel level, std::string_view m) {
      logs.push_back(std::string(toString(level)) + ": " + std::string(m));
    });
    incidents.setRecoveryQuietPeriod(std::chrono::milliseconds(50));
  }
  void TearDown() override { setLogSink(nullptr); }
  void noteDependencyFailure(const std::string& stage, std::string_view m) {
    incidents.noteFailure(stage, m);
  }
  void noteDependencySuccess(const std::string& stage) { incidents.noteSuccess(stage); }
};

TEST_F(IncidentsTest, AnOutageIsOneStartLineAndOneRecoveryLine) {
  for (int i = 0; i < 100; ++i)
    noteDependencyFailure("rdns",
                          "rdns: rdns.dns_failure (PTR: timed out): on_failure = "
                          "tempfail, deferring");
  noteDependencySuccess("helo");  // another stage: not rdns's recovery
  noteDependencySuccess("rdns");  // too soon after the last failure: a cache hit, say
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0],
            "warning: rdns: rdns.dns_failure (PTR: timed out): on_failure = tempfail, deferring "
            "[dependency incident started]");
  clock.steady += std::chrono::milliseconds(80);
  noteDependencySuccess("rdns");
  noteDependencySuccess("rdns");
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[1].substr(0, 47), "info: rdns: dependency recovered after 100 fail");
  EXPECT_NE(logs[1].find(" [dependency incident ended]"), std::string::npos);

  noteDependencyFailure("rdns",
                        "rdns: rdns.dns_failure (PTR: SERVFAIL): on_failure = tempfail, "
                        "deferring");
  ASSERT_EQ(logs.size(), 3u);
  EXPECT_EQ(logs[2],
            "warning: rdns: rdns.dns_failure (PTR: SERVFAIL): on_failure = tempfail, deferring "
            "[dependency incident started]");
  clock.steady += std::chrono::milliseconds(80);
  noteDependencySuccess("rdns");
  EXPECT_EQ(logs.size(), 4u);
}

TEST_F(IncidentsTest, EachStageHasItsOwnIncident) {
  noteDependencyFailure("rbl", "rbl: down");
  noteDependencyFailure("ratelimit", "ratelimit: down");
  noteDependencyFailure("rbl", "rbl: down");
  ASSERT_EQ(logs.size(), 2u);
  clock.steady += std::chrono::milliseconds(80);
  noteDependencySuccess("rbl");
  ASSERT_EQ(logs.size(), 3u);
  EXPECT_EQ(logs[2].substr(0, 43), "info: rbl: dependency recovered after 2 fai");
  noteDependencySuccess("ratelimit");
  EXPECT_EQ(logs.size(), 4u);
}

}  // namespace
}  // namespace mxguard
