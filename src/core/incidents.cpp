// incidents.cpp - per-stage incident state behind one mutex; an atomic count of failing stages
// keeps the common case (nothing failing) lock-free.
#include "core/incidents.h"

#include <atomic>
#include <map>
#include <mutex>

#include "core/log.h"

namespace mxguard {
namespace {

using Clock = std::chrono::steady_clock;

struct Incident {
  Clock::time_point started, lastFailure, lastReminder;
  size_t failures = 0;       // since the incident started
  size_t sinceReminder = 0;  // since the last line logged
};

std::mutex gMutex;
std::map<std::string, Incident> gOpen;  // stage -> its open incident
std::atomic<int> gOpenCount{0};
std::atomic<long long> gQuietMs{5000};

std::string seconds(Clock::duration d) {
  auto tenths = std::chrono::duration_cast<std::chrono::milliseconds>(d).count() / 100;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
}

}  // namespace

void noteDependencyFailure(const std::string& stage, std::string_view message) {
  auto now = Clock::now();
  std::string line;
  {
    std::lock_guard guard(gMutex);
    auto [it, opened] = gOpen.try_emplace(stage, Incident{now, now, now, 0, 0});
    Incident& in = it->second;
    ++in.failures;
    in.lastFailure = now;
    if (opened) {
      gOpenCount.fetch_add(1);
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

void noteDependencySuccess(const std::string& stage) {
  if (gOpenCount.load(std::memory_order_relaxed) == 0) return;
  auto now = Clock::now();
  std::string line;
  {
    std::lock_guard guard(gMutex);
    auto it = gOpen.find(stage);
    if (it == gOpen.end()) return;
    const Incident& in = it->second;
    if (now - in.lastFailure < std::chrono::milliseconds(gQuietMs.load())) return;
    line = stage + ": dependency recovered after " + std::to_string(in.failures) + " failures in " +
           seconds(in.lastFailure - in.started) + " [dependency incident ended]";
    gOpen.erase(it);
    gOpenCount.fetch_sub(1);
  }
  logMessage(LogLevel::Info, line);
}

void setRecoveryQuietPeriod(std::chrono::milliseconds period) {
  gQuietMs = period.count();
}

}  // namespace mxguard
