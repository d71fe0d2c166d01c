// metrics_cost.cpp - what recording one message's worth of metrics costs (10 trace entries, 1
// verdict, 8 phase timings), printed in nanoseconds: a change that makes it expensive shows here.
// Run: BUILD/mxguard-metrics-cost. Must not: be a test (it measures, it asserts nothing).
#include <chrono>
#include <cstdio>

#include "base/metrics.h"

using namespace mxguard;
using namespace mxguard::metrics;

int main() {
  constexpr int kMessages = 200000;
  // Warm: create the series first, as the first message of a running daemon does.
  auto once = [] {
    for (const char* s : {"rbl", "helo", "rdns", "spf", "dkim"}) {
      countStageOutcome(s, "pass", "none");
      countStageOutcome(s, "ok", "none");
    }
    countVerdict("accept");
    for (Phase p : {Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt, Phase::Header,
                    Phase::Eoh, Phase::Body, Phase::Eom})
      Timer t(p);
  };
  once();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kMessages; ++i) once();
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("metrics cost per message (10 outcomes, 1 verdict, 8 phase timers): %.0f ns\n",
              static_cast<double>(ns) / kMessages);
  return 0;
}
