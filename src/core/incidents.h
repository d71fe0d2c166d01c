// incidents.h - a dependency outage is one incident per stage in the log: its first failure is
// logged with the reason, the failures while it lasts are only counted (a reminder line each
// minute), and the stage's first success 5 s or more after its last failure logs the recovery
// with the count and the duration. An admin reads two lines per outage, not one per message.
// Must not: take a lock on the success path while no stage is failing (every decision calls it).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace mxguard {

class Incidents {
 public:
  explicit Incidents(const Clock& clock = systemClock()) : clock_(clock) {}

  // `message` describes this failure ("rdns: rdns.dns_failure (PTR: timed out): on_failure =
  // tempfail, deferring"); logged only when it opens an incident or as the minute's reminder.
  void noteFailure(const std::string& stage, std::string_view message);
  void noteSuccess(const std::string& stage);

  // How long a stage must see only successes before it counts as recovered (default 5 s).
  void setRecoveryQuietPeriod(std::chrono::milliseconds period) { quietMs_ = period.count(); }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Incident {
    TimePoint started, lastFailure, lastReminder;
    size_t failures = 0;       // since the incident started
    size_t sinceReminder = 0;  // since the last line logged
  };
  const Clock& clock_;
  std::mutex mutex_;
  std::map<std::string, Incident> open_;  // stage -> its open incident
  std::atomic<int> openCount_{0};
  std::atomic<long long> quietMs_{5000};
};

// The daemon's and the harness's incidents (one per process); policies point at it unless a
// test gives them their own.
Incidents& processIncidents();

}  // namespace mxguard
