// metrics_test.cpp - the exposition text byte for byte (counters, escaping, histogram buckets,
// sum and count), the series cap, concurrent recording, the process-wide render (what an Engine
// records there: tests/unit/core/engine_metrics_test.cpp).
#include "base/metrics.h"

#include <gtest/gtest.h>

#include <thread>

#include "base/counters.h"
#include "base/log.h"

namespace mxguard::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Metrics, CounterFamilyExactText) {
  Registry r;
  auto& f = r.add<Counter, 2>("mxguard_test_total", "Things counted.", {"stage", "outcome"});
  f.with({"rbl", "listed"}).inc();
  f.with({"rbl", "listed"}).inc(2);
  f.with({"helo", "ok"}).inc();
  std::string out;
  r.render(out);
  // Series in label order, so the output is stable from scrape to scrape.
  EXPECT_EQ(out,
            "# HELP mxguard_test_total Things counted.\n"
            "# TYPE mxguard_test_total counter\n"
            "mxguard_test_total{stage=\"helo\",outcome=\"ok\"} 1\n"
            "mxguard_test_total{stage=\"rbl\",outcome=\"listed\"} 3\n");
}

TEST(Metrics, FamilyWithoutSeriesHasOnlyHelpAndType) {
  Registry r;
  r.add<Counter, 1>("a_total", "A.", {"x"});
  r.add<Counter, 1>("b", "B.", {"version"}, "gauge").with({"1.2"}).inc();
  std::string out;
  r.render(out);
  EXPECT_EQ(out,
            "# HELP a_total A.\n# TYPE a_total counter\n"
            "# HELP b B.\n# TYPE b gauge\nb{version=\"1.2\"} 1\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  std::string v;
  appendEscapedLabelValue(v, "a\\b\"c\nd");
  EXPECT_EQ(v, "a\\\\b\\\"c\\nd");

  Registry r;
  // HELP escapes backslash and newline but not quotes (exposition format 0.0.4).
  r.add<Counter, 1>("x_total", "say \"hi\" \\ then\nmore", {"event"})
      .with({"odd \"name\"\\\n"})
      .inc();
  std::string out;
  r.render(out);
  EXPECT_EQ(out,
            "# HELP x_total say \"hi\" \\\\ then\\nmore\n"
            "# TYPE x_total counter\n"
            "x_total{event=\"odd \\\"name\\\"\\\\\\n\"} 1\n");
}

TEST(Metrics, HistogramBucketsSumAndCount) {
  Registry r;
  auto& h = r.add<Histogram, 1>("d_seconds", "Durations.", {"phase"}).with({"rcpt"});
  h.observe(microseconds(500));  // <= 0.001
  h.observe(milliseconds(1));    // exactly on a bound: le is inclusive
  h.observe(milliseconds(3));    // <= 0.005
  h.observe(seconds(40));        // above the last bound: +Inf only
  std::string out;
  r.render(out);
  EXPECT_EQ(out,
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.001\"} 2\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.0025\"} 2\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.005\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.01\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.025\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.05\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.1\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.25\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"0.5\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"1\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"2.5\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"5\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"10\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"30\"} 3\n"
            "d_seconds_bucket{phase=\"rcpt\",le=\"+Inf\"} 4\n"
            "d_seconds_sum{phase=\"rcpt\"} 40.0045\n"
            "d_seconds_count{phase=\"rcpt\"} 4\n");
}

TEST(Metrics, NegativeDurationCountsAsZero) {
  Histogram h;
  h.observe(std::chrono::nanoseconds(-5));
  auto s = h.snapshot();
  EXPECT_EQ(s.cumulative[0], 1u);
  EXPECT_EQ(s.sumSeconds, 0.0);
}

TEST(Metrics, SeriesBeyondTheCapShareOneOtherSeries) {
  Registry r;
  auto& f = r.add<Counter, 1>("c_total", "C.", {"k"});
  for (size_t i = 0; i < CounterFamily1::kMaxSeries; ++i) f.with({std::to_string(i)}).inc();
  f.with({"one-too-many"}).inc();
  f.with({"and-another"}).inc();
  EXPECT_EQ(f.with({"other"}).value(), 2u);
  EXPECT_EQ(&f.with({"yet-another"}), &f.with({"other"}));
  EXPECT_EQ(f.with({"7"}).value(), 1u);  // existing series still count on their own
}

TEST(Metrics, EventsRenderAsOneFamily) {
  std::string out;
  renderEvents(out, {{"rbl.dependency_failure", 2}, {"store.redis_failure", 5}});
  EXPECT_EQ(out,
            "# HELP mxguard_events_total Event counters (degraded modes, observed rejections, "
            "internal errors), by the name they have in the SIGUSR1 log line.\n"
            "# TYPE mxguard_events_total counter\n"
            "mxguard_events_total{event=\"rbl.dependency_failure\"} 2\n"
            "mxguard_events_total{event=\"store.redis_failure\"} 5\n");
}

TEST(Metrics, ConcurrentRecordingLosesNothing) {
  Registry r;
  auto& f = r.add<Counter, 2>("n_total", "N.", {"t", "k"});
  auto& h = r.add<Histogram, 1>("h_seconds", "H.", {"k"});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  // A scraper renders all the while: it must neither block recording for long nor crash.
  std::thread scraper([&] {
    while (!stop) {
      std::string out;
      r.render(out);
    }
  });
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::string own = "t" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        f.with({"shared", "x"}).inc();
        f.with({own, std::to_string(i % 10)}).inc();  // new series created under contention
        h.with({"shared"}).observe(microseconds(i % 2000));
      }
    });
  for (auto& th : threads) th.join();
  stop = true;
  scraper.join();
  EXPECT_EQ(f.with({"shared", "x"}).value(), uint64_t{kThreads} * kPerThread);
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(f.with({"t" + std::to_string(t), "3"}).value(), uint64_t{kPerThread} / 10);
  EXPECT_EQ(h.with({"shared"}).snapshot().cumulative.back(), uint64_t{kThreads} * kPerThread);
}

TEST(Metrics, GlobalRenderHasBuildInfoFixedSeriesAndEvents) {
  // Process-wide counters: the expected value is what this test adds, whatever ran before.
  uint64_t before = counterValue("metrics_test.some_event");
  countEvent("metrics_test.some_event", 3);
  std::string out = render();
  EXPECT_NE(out.find("# TYPE mxguard_build_info gauge\nmxguard_build_info{version=\""),
            std::string::npos);
  EXPECT_NE(out.find("mxguard_verdicts_total{action=\"accept\"} "), std::string::npos);
  EXPECT_NE(out.find("mxguard_policy_reloads_total{result=\"failure\"} "), std::string::npos);
  EXPECT_NE(out.find("mxguard_phase_duration_seconds_count{phase=\"rcpt\"} "), std::string::npos);
  EXPECT_EQ(out.find("phase=\"abort\""), std::string::npos);  // no stage runs there
  EXPECT_NE(out.find("mxguard_dependency_duration_seconds_count{dependency=\"redis\"} "),
            std::string::npos);
  EXPECT_NE(out.find("mxguard_events_total{event=\"metrics_test.some_event\"} " +
                     std::to_string(before + 3) + "\n"),
            std::string::npos);
  EXPECT_EQ(out.back(), '\n');
}

}  // namespace
TEST(Metrics, DelayHistogramHasItsOwnBuckets) {
  Registry r;
  auto& h = r.add<DelayHistogram, 1>("w_seconds", "Waits.", {"network"}).with({"prefix"});
  h.observe(std::chrono::minutes(6));  // in the 600 s bucket
  h.observe(std::chrono::hours(30));   // past the last bound: +Inf only
  std::string out;
  r.render(out);
  EXPECT_NE(out.find("# TYPE w_seconds histogram"), std::string::npos) << out;
  EXPECT_NE(out.find("w_seconds_bucket{network=\"prefix\",le=\"300\"} 0"), std::string::npos)
      << out;
  EXPECT_NE(out.find("w_seconds_bucket{network=\"prefix\",le=\"600\"} 1"), std::string::npos)
      << out;
  EXPECT_NE(out.find("w_seconds_bucket{network=\"prefix\",le=\"86400\"} 1"), std::string::npos)
      << out;
  EXPECT_NE(out.find("w_seconds_bucket{network=\"prefix\",le=\"+Inf\"} 2"), std::string::npos)
      << out;
  EXPECT_NE(out.find("w_seconds_sum{network=\"prefix\"} 108360"), std::string::npos) << out;
}

}  // namespace mxguard::metrics
