// metrics.cpp - the families behind metrics.h and the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), written by hand: it is small.
// Must not: allocate when recording into an existing series, or hold a lock while rendering
// another family (a scrape must not stall the mail threads for longer than one map walk).
#include "base/metrics.h"

#include <algorithm>
#include <charconv>
#include <mutex>
#include <type_traits>

#include "base/counters.h"
#include "base/version.h"

namespace mxguard::metrics {
namespace {

void appendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Shortest round-trip form ("0.001", "2.5", "30"), as Prometheus' own clients write floats.
void appendDouble(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// HELP text escapes backslash and newline only (quotes stay as they are).
void appendEscapedHelp(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

void appendValue(std::string& out, const Counter& c) {
  appendUint(out, c.value());
}

}  // namespace

void appendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

template <const auto& Bounds>
void BasicHistogram<Bounds>::observe(std::chrono::nanoseconds d) {
  int64_t ns = std::max<int64_t>(0, d.count());
  double seconds = static_cast<double>(ns) / 1e9;
  size_t i = 0;
  while (i < kBuckets && seconds > Bounds[i]) ++i;  // le: upper bound is inclusive
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sumNanos_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

template <const auto& Bounds>
typename BasicHistogram<Bounds>::Snapshot BasicHistogram<Bounds>::snapshot() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i <= kBuckets; ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sumSeconds = static_cast<double>(sumNanos_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

template class BasicHistogram<kLatencyBuckets>;
template class BasicHistogram<kDelayBuckets>;

void FamilyBase::render(std::string& out) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  appendEscapedHelp(out, help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type_;
  out += '\n';
  renderSeries(out);
}

template <class Metric, size_t N>
Family<Metric, N>::Family(std::string name, std::string help, std::array<std::string, N> labelNames,
                          std::string type)
    : FamilyBase(std::move(name), std::move(help),
                 !type.empty()             ? std::move(type)
                 : HistogramMetric<Metric> ? "histogram"
                                           : "counter"),
      labelNames_(std::move(labelNames)),
      slots_(new std::atomic<Node*>[kSlots]) {
  for (size_t i = 0; i < kSlots; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
}

template <class Metric, size_t N>
Family<Metric, N>::~Family() {
  for (size_t i = 0; i < kSlots; ++i) delete slots_[i].load(std::memory_order_relaxed);
}

template <class Metric, size_t N>
typename Family<Metric, N>::Node* Family<Metric, N>::find(const Labels& values, size_t hash,
                                                          size_t* freeSlot) const {
  for (size_t i = hash & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    // Acquire: a node seen here was fully built before it was published.
    Node* n = slots_[i].load(std::memory_order_acquire);
    if (!n) {
      if (freeSlot) *freeSlot = i;
      return nullptr;
    }
    if (n->hash != hash) continue;
    bool same = true;
    for (size_t k = 0; k < N && same; ++k) same = n->labels[k] == values[k];
    if (same) return n;
  }
}

template <class Metric, size_t N>
Metric& Family<Metric, N>::with(const Labels& values) {
  size_t hash = 0;
  for (const auto& v : values) hash = hash * 1000003u ^ std::hash<std::string_view>{}(v);
  if (Node* n = find(values, hash, nullptr)) return n->metric;

  std::lock_guard guard(insertMutex_);
  size_t slot = 0;
  if (Node* n = find(values, hash, &slot)) return n->metric;  // added meanwhile
  Labels key = values;
  if (size_ >= kMaxSeries) {
    key.fill("other");
    hash = 0;
    for (const auto& v : key) hash = hash * 1000003u ^ std::hash<std::string_view>{}(v);
    if (Node* n = find(key, hash, &slot)) return n->metric;
  }
  auto* node = new Node{hash, {}, {}};
  for (size_t k = 0; k < N; ++k) node->labels[k] = std::string(key[k]);
  ++size_;
  slots_[slot].store(node, std::memory_order_release);
  return node->metric;
}

template <class Metric, size_t N>
void Family<Metric, N>::appendLabels(std::string& out, const std::array<std::string, N>& values,
                                     std::string_view extraName,
                                     std::string_view extraValue) const {
  if (N == 0 && extraName.empty()) return;
  out += '{';
  for (size_t i = 0; i < N; ++i) {
    if (i) out += ',';
    out += labelNames_[i];
    out += "=\"";
    appendEscapedLabelValue(out, values[i]);
    out += '"';
  }
  if (!extraName.empty()) {
    if (N) out += ',';
    out += extraName;
    out += "=\"";
    out += extraValue;
    out += '"';
  }
  out += '}';
}

template <class Metric, size_t N>
void Family<Metric, N>::renderSeries(std::string& out) const {
  // Sorted by label values, so a scrape reads the same from one time to the next.
  std::vector<const Node*> nodes;
  for (size_t i = 0; i < kSlots; ++i)
    if (const Node* n = slots_[i].load(std::memory_order_acquire)) nodes.push_back(n);
  std::sort(nodes.begin(), nodes.end(),
            [](const Node* a, const Node* b) { return a->labels < b->labels; });
  for (const Node* node : nodes) {
    const auto& labels = node->labels;
    const Metric* metric = &node->metric;
    if constexpr (HistogramMetric<Metric>) {
      auto s = metric->snapshot();
      std::string le;
      for (size_t i = 0; i <= Metric::kBuckets; ++i) {
        le.clear();
        if (i < Metric::kBuckets)
          appendDouble(le, Metric::bound(i));
        else
          le = "+Inf";
        out += name_;
        out += "_bucket";
        appendLabels(out, labels, "le", le);
        out += ' ';
        appendUint(out, s.cumulative[i]);
        out += '\n';
      }
      out += name_;
      out += "_sum";
      appendLabels(out, labels);
      out += ' ';
      appendDouble(out, s.sumSeconds);
      out += '\n';
      out += name_;
      out += "_count";
      appendLabels(out, labels);
      out += ' ';
      appendUint(out, s.cumulative[Metric::kBuckets]);
      out += '\n';
    } else {
      out += name_;
      appendLabels(out, labels);
      out += ' ';
      appendValue(out, *metric);
      out += '\n';
    }
  }
}

template class Family<Counter, 1>;
template class Family<Counter, 2>;
template class Family<Counter, 3>;
template class Family<Histogram, 1>;
template class Family<DelayHistogram, 1>;

void Registry::render(std::string& out) const {
  for (const auto& f : families_) f->render(out);
}

void renderEvents(std::string& out, const std::map<std::string, uint64_t>& events) {
  out +=
      "# HELP mxguard_events_total Event counters (degraded modes, observed rejections, internal "
      "errors), by the name they have in the SIGUSR1 log line.\n"
      "# TYPE mxguard_events_total counter\n";
  for (const auto& [name, value] : events) {
    out += "mxguard_events_total{event=\"";
    appendEscapedLabelValue(out, name);
    out += "\"} ";
    appendUint(out, value);
    out += '\n';
  }
}

MxguardMetrics::MxguardMetrics()
    : stageOutcomes(registry.add<Counter, 3>(
          "mxguard_stage_outcomes_total",
          "Stage decisions as traced: stage, outcome (stage.outcome as in the logs) and what the "
          "engine made of it.",
          {"stage", "outcome", "effect"})),
      verdicts(registry.add<Counter, 1>(
          "mxguard_verdicts_total",
          "Finished transactions (one per summary log line), by final action.", {"action"})),
      dependencyFailures(registry.add<Counter, 1>(
          "mxguard_dependency_failures_total",
          "Stage decisions made on a dependency failure (DNS, store, callout target).", {"stage"})),
      cacheLookups(registry.add<Counter, 2>("mxguard_cache_lookups_total",
                                            "Cache lookups by cache and result.",
                                            {"cache", "result"})),
      calloutProbes(registry.add<Counter, 1>("mxguard_callout_probes_total",
                                             "Callout probes to a mail server, by outcome.",
                                             {"outcome"})),
      policyReloads(registry.add<Counter, 1>("mxguard_policy_reloads_total",
                                             "Policy reloads (SIGHUP), by result.", {"result"})),
      buildInfo(registry.add<Counter, 1>(
          "mxguard_build_info", "The running mxguard's version (always 1).", {"version"}, "gauge")),
      phaseDurationFamily(registry.add<Histogram, 1>(
          "mxguard_phase_duration_seconds",
          "Time the engine spends in one SMTP phase, all stages and their lookups together.",
          {"phase"})),
      dependencyDurationFamily(registry.add<Histogram, 1>(
          "mxguard_dependency_duration_seconds",
          "Time spent waiting for a dependency: a DNS batch, a Redis call, a callout probe.",
          {"dependency"})),
      greylistRetryDelay(registry.add<DelayHistogram, 1>(
          "mxguard_greylist_retry_delay_seconds",
          "Greylisting: from a triplet's first attempt to the retry that passed, by how the "
          "client network is keyed (the prefix, or a pool_networks entry).",
          {"network"})) {
  // Known series exist from the start, at 0, so rate() and absent() work before the first mail.
  for (const char* a : {"accept", "reject", "tempfail", "discard", "abort", "disconnect"})
    verdicts.with({a});
  for (const char* r : {"success", "failure"}) policyReloads.with({r});
  buildInfo.with({version()}).inc();
  // The phases a stage can hook: abort and close run no stage decisions, so are not timed.
  for (size_t p = 0; p <= static_cast<size_t>(Phase::Eom); ++p) {
    std::string_view name = toString(static_cast<Phase>(p));
    phaseDuration[p] = &phaseDurationFamily.with({name});
  }
  phaseDuration[static_cast<size_t>(Phase::Abort)] = &untimedPhases;
  phaseDuration[static_cast<size_t>(Phase::Close)] = &untimedPhases;
  dependencyDuration[static_cast<size_t>(Dependency::Dns)] =
      &dependencyDurationFamily.with({"dns"});
  dependencyDuration[static_cast<size_t>(Dependency::Redis)] =
      &dependencyDurationFamily.with({"redis"});
  dependencyDuration[static_cast<size_t>(Dependency::Callout)] =
      &dependencyDurationFamily.with({"callout"});
}

MxguardMetrics& global() {
  static MxguardMetrics m;
  return m;
}

std::string render() {
  std::string out;
  out.reserve(16384);
  global().registry.render(out);
  renderEvents(out, countersSnapshot());
  return out;
}

}  // namespace mxguard::metrics
