// engine_metrics_test.cpp - an Engine's trace entries, verdicts, dependency failures and phase
// timings reach the process's metrics under the names the logs use.
#include <gtest/gtest.h>

#include "base/log.h"
#include "base/metrics.h"
#include "core/engine.h"

namespace mxguard::metrics {
namespace {

// A stage that rejects at RCPT with a fixed reason.
class RejectingStage : public Stage {
 public:
  std::string_view name() const override { return "mtest"; }
  Findings onRcpt(Connection&, const std::string& rcpt) const override {
    if (rcpt.rfind("bad", 0) == 0)
      return Decision::reject(*Reply::make(550, "5.7.1", "no"), "mtest.refused");
    return Decision::pass("mtest.ok");
  }
  Findings onMail(Connection&) const override {
    return Decision::dependencyTempfail(*Reply::make(451, "4.7.1", "later"), "mtest.dns_failure");
  }
};

TEST(Metrics, SessionRecordsTraceEntriesVerdictsAndPhases) {
  setLogSink([](LogLevel, std::string_view) {});
  auto policy = std::make_shared<Policy>();
  StageEntry e;
  e.stage = std::make_shared<RejectingStage>();
  e.phases = PhaseSet{Phase::Mail, Phase::Rcpt};
  e.onFailure = FailureMode::Accept;
  policy->stages.push_back(e);

  auto& m = global();
  auto value = [&](std::string_view outcome, std::string_view effect) {
    return m.stageOutcomes.with({"mtest", outcome, effect}).value();
  };
  uint64_t refused0 = value("refused", "reject"), ok0 = value("ok", "none"),
           failed0 = value("dns_failure", "accepted_on_failure"),
           reject0 = m.verdicts.with({"reject"}).value(),
           accept0 = m.verdicts.with({"accept"}).value(),
           depfail0 = m.dependencyFailures.with({"mtest"}).value(),
           rcpt0 = m.phaseDuration[static_cast<size_t>(Phase::Rcpt)]->snapshot().cumulative.back(),
           mail0 = m.phaseDuration[static_cast<size_t>(Phase::Mail)]->snapshot().cumulative.back();

  for (const char* rcpt : {"bad@example.org", "good@example.org"}) {
    Engine s(policy);
    s.connection().client.clientAddress = "192.0.2.1";
    s.connection().client.clientIp = IpAddress::parse("192.0.2.1");
    s.connect();
    s.helo("client.example.net");
    s.mail("<a@example.net>");
    s.rcpt(rcpt);
    if (std::string_view(rcpt).rfind("good", 0) == 0) s.endOfMessage();
    s.close();
  }
  setLogSink(nullptr);
  EXPECT_EQ(value("refused", "reject") - refused0, 1u);
  EXPECT_EQ(value("ok", "none") - ok0, 1u);
  EXPECT_EQ(value("dns_failure", "accepted_on_failure") - failed0, 2u);
  EXPECT_EQ(m.dependencyFailures.with({"mtest"}).value() - depfail0, 2u);
  EXPECT_EQ(m.verdicts.with({"reject"}).value() - reject0, 1u);
  EXPECT_EQ(m.verdicts.with({"accept"}).value() - accept0, 1u);
  EXPECT_EQ(m.phaseDuration[static_cast<size_t>(Phase::Rcpt)]->snapshot().cumulative.back() - rcpt0,
            2u);
  EXPECT_EQ(m.phaseDuration[static_cast<size_t>(Phase::Mail)]->snapshot().cumulative.back() - mail0,
            2u);
}

}  // namespace
}  // namespace mxguard::metrics
