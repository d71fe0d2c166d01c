// incidents.cpp - per-stage incident state behind one mutex; an atomic count of failing stages
// keeps the common case (nothing failing) lock-free.
// Must not: log while holding the mutex (a log sink may be slow).
#include "core/incidents.h"

#include "base/log.h"

namespace mxguard {
namespace {

std::string seconds(std::chrono::steady_clock::duration d) {
  auto tenths = std::chrono::duration_cast<std::chrono::milliseconds>(d).count() / 100;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

}  // namespace

void Incidents::noteFailure(const std::string& stage, std::string_view message) {
  auto now = clock_.now();
  std::string line;
  {
    std::lock_guard guard(mutex_);
    auto [it, opened] = open_.try_emplace(stage, Incident{now, now, now, 0, 0});
    Incident& in = it->second;
    ++in.failures;
    in.lastFailure = now;
    if (opened) {
      openCount_.fetch_add(1);
      line = std::string(message) + " [dependency incident started]";
    } else if (now - in.lastReminder >= std::chrono::minutes(1)) {
      line = std::string(message) + " [still failing: " + std::to_string(in.sinceReminder + 1) +
             " failures in the last " + seconds(now - in.lastReminder) + "]";
      in.lastReminder = now;
      in.sinceReminder = 0;
    } else {
      ++in.sinceReminder;
    }
  }
  if (!line.empty()) logMessage(LogLevel::Warning, line);
}

void Incidents::noteSuccess(const std::string& stage) {
  if (openCount_.load(std::memory_order_relaxed) == 0) return;
  auto now = clock_.now();
  std::string line;
  {
    std::lock_guard guard(mutex_);
    auto it = open_.find(stage);
    if (it == open_.end()) return;
    const Incident& in = it->second;
    if (now - in.lastFailure < std::chrono::milliseconds(quietMs_.load())) return;
    line = stage + ": dependency recovered after " + std::to_string(in.failures) + " failures in " +
           seconds(in.lastFailure - in.started) + " [dependency incident ended]";
    open_.erase(it);
    openCount_.fetch_sub(1);
  }
  logMessage(LogLevel::Info, line);
}

Incidents& processIncidents() {
  static Incidents incidents;
  return incidents;
}

}  // namespace mxguard
