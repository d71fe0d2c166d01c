// metrics.h - process-wide Prometheus metrics: lock-free counters and fixed-bucket histograms in
// small labelled families, the mxguard metric set, and render() in the text exposition format
// 0.0.4. The recording helpers at the bottom are what the data plane calls (one line each).
// Must not: depend on anything but the standard library, do I/O, or throw on the data plane.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/phase.h"

namespace mxguard::metrics {

class Counter {
 public:
  // Relaxed: a scrape needs each value eventually, not an order between them.
  void inc(uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Upper bounds in seconds, suited to mail: a cached DNS answer takes well under 1 ms, a callout
// to a slow server or a DNS timeout runs to tens of seconds.
inline constexpr std::array<double, 14> kLatencyBuckets{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

// Retry delays (greylisting): from a minute to a day.
inline constexpr std::array<double, 10> kDelayBuckets{60,   300,  600,   900,   1800,
                                                      3600, 7200, 14400, 43200, 86400};

// A histogram over the fixed upper bounds `Bounds` (seconds).
template <const auto& Bounds>
class BasicHistogram {
 public:
  static constexpr size_t kBuckets = Bounds.size();
  static constexpr double bound(size_t i) { return Bounds[i]; }
  void observe(std::chrono::nanoseconds d);
  struct Snapshot {
    std::array<uint64_t, kBuckets + 1> cumulative{};  // last: +Inf, which is also the count
    double sumSeconds = 0;
  };
  Snapshot snapshot() const;

 private:
  // Per bucket (not cumulative) so an observation is two atomic adds; the last slot is +Inf.
  std::array<std::atomic<uint64_t>, kBuckets + 1> counts_{};
  std::atomic<uint64_t> sumNanos_{0};  // 2^64 ns is 584 years of latency
};
using Histogram = BasicHistogram<kLatencyBuckets>;
using DelayHistogram = BasicHistogram<kDelayBuckets>;

template <class M>
concept HistogramMetric = requires {
  M::kBuckets;
};

// Writes a label value with Prometheus' escaping: backslash, double quote and newline.
void appendEscapedLabelValue(std::string& out, std::string_view value);

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type)
      : name_(std::move(name)), help_(std::move(help)), type_(std::move(type)) {}
  virtual ~FamilyBase() = default;
  void render(std::string& out) const;  // # HELP, # TYPE and every series
  const std::string& name() const { return name_; }

 protected:
  virtual void renderSeries(std::string& out) const = 0;
  std::string name_, help_, type_;
};

// A metric with N labels. Series are created on first use and live as long as the family, so a
// reference from with() can be kept (fixed label sets are looked up once, at start). Lookups take
// no lock: an open-addressing table of atomic pointers to immutable nodes, written under a mutex
// only when a label set is new. A shared_mutex would make every reader write its cache line.
template <class Metric, size_t N>
class Family : public FamilyBase {
 public:
  using Labels = std::array<std::string_view, N>;
  // A bug that put per-message text in a label must not grow memory without bound: past this
  // many series, new label sets share one series whose labels all read "other".
  static constexpr size_t kMaxSeries = 2000;

  // type: "" = counter or histogram by Metric; "gauge" for a Counter that is only ever set once
  // (build_info), so Prometheus does not treat it as a rate.
  Family(std::string name, std::string help, std::array<std::string, N> labelNames,
         std::string type = "");
  ~Family() override;
  Metric& with(const Labels& values);

 protected:
  void renderSeries(std::string& out) const override;

 private:
  struct Node {
    size_t hash;
    std::array<std::string, N> labels;
    Metric metric;
  };
  static constexpr size_t kSlots = 4096;  // a power of two, over twice kMaxSeries
  Node* find(const Labels& values, size_t hash, size_t* freeSlot) const;
  void appendLabels(std::string& out, const std::array<std::string, N>& values,
                    std::string_view extraName = {}, std::string_view extraValue = {}) const;

  std::array<std::string, N> labelNames_;
  std::unique_ptr<std::atomic<Node*>[]> slots_;
  std::mutex insertMutex_;
  size_t size_ = 0;  // under insertMutex_
};

using CounterFamily1 = Family<Counter, 1>;
using CounterFamily3 = Family<Counter, 3>;
using HistogramFamily1 = Family<Histogram, 1>;
using DelayHistogramFamily1 = Family<DelayHistogram, 1>;

class Registry {
 public:
  template <class Metric, size_t N>
  Family<Metric, N>& add(std::string name, std::string help, std::array<std::string, N> labelNames,
                         std::string type = "") {
    auto f = std::make_unique<Family<Metric, N>>(std::move(name), std::move(help),
                                                 std::move(labelNames), std::move(type));
    auto& ref = *f;
    families_.push_back(std::move(f));
    return ref;
  }
  // Families in the order they were added. Add every family before the first record or render:
  // the list itself is not locked (the series inside each family are).
  void render(std::string& out) const;

 private:
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

// The names of countEvent() (core/counters.h), as mxguard_events_total{event="..."}.
void renderEvents(std::string& out, const std::map<std::string, uint64_t>& events);

enum class Dependency : uint8_t { Dns, Redis, Callout };
inline constexpr size_t kDependencies = 3;
inline constexpr size_t kPhases = static_cast<size_t>(Phase::Close) + 1;

// mxguard's own metrics, in one registry. Label sets that are fixed (phases, dependencies) are
// resolved once here, so recording them is an index and two atomic adds.
struct MxguardMetrics {
  MxguardMetrics();
  Registry registry;
  CounterFamily3& stageOutcomes;
  CounterFamily1& verdicts;
  CounterFamily1& dependencyFailures;
  Family<Counter, 2>& cacheLookups;
  CounterFamily1& calloutProbes;
  CounterFamily1& policyReloads;
  CounterFamily1& buildInfo;
  HistogramFamily1& phaseDurationFamily;
  HistogramFamily1& dependencyDurationFamily;
  DelayHistogramFamily1& greylistRetryDelay;
  std::array<Histogram*, kPhases> phaseDuration{};
  std::array<Histogram*, kDependencies> dependencyDuration{};
  Histogram untimedPhases;  // abort, close: valid to index, never rendered
};

MxguardMetrics& global();
// The whole exposition: mxguard's metrics, then the event counters.
std::string render();

// --- Recording, one line at each place that decides or waits. ---
inline void countStageOutcome(std::string_view stage, std::string_view outcome,
                              std::string_view effect) {
  global().stageOutcomes.with({stage, outcome, effect}).inc();
}
inline void countVerdict(std::string_view action) {
  global().verdicts.with({action}).inc();
}
inline void countDependencyFailure(std::string_view stage) {
  global().dependencyFailures.with({stage}).inc();
}
inline void countCacheLookup(std::string_view cache, std::string_view result) {
  global().cacheLookups.with({cache, result}).inc();
}
inline void countCalloutProbe(std::string_view outcome) {
  global().calloutProbes.with({outcome}).inc();
}
inline void countPolicyReload(bool ok) {
  global().policyReloads.with({ok ? "success" : "failure"}).inc();
}
inline void observePhase(Phase p, std::chrono::nanoseconds d) {
  global().phaseDuration[static_cast<size_t>(p)]->observe(d);
}
inline void observeDependency(Dependency dep, std::chrono::nanoseconds d) {
  global().dependencyDuration[static_cast<size_t>(dep)]->observe(d);
}
// Greylisting: a retry that passed, `waited` after the triplet's first attempt.
inline void observeGreylistRetry(bool poolNetwork, std::chrono::seconds waited) {
  global().greylistRetryDelay.with({poolNetwork ? "pool" : "prefix"}).observe(waited);
}

// Observes the time from construction to destruction: `metrics::Timer t(Dependency::Redis);`.
class Timer {
 public:
  explicit Timer(Dependency dep)
      : histogram_(global().dependencyDuration[static_cast<size_t>(dep)]) {}
  explicit Timer(Phase phase) : histogram_(global().phaseDuration[static_cast<size_t>(phase)]) {}
  ~Timer() { histogram_->observe(std::chrono::steady_clock::now() - start_); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

 private:
  Histogram* histogram_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace mxguard::metrics
