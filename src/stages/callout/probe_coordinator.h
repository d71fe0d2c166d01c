// probe_coordinator.h - keeps callouts from becoming a weapon: concurrent checks of one address
// share one probe (single-flight), and probes in progress are capped globally and per domain.
// Must not: let a waiter wait longer than its own deadline, or keep a flight or its cap slots once
// its probe has ended, by returning or by throwing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace mxguard::stages {

// One per process (see CalloutStage::processProbes), not one per policy: a reload must neither
// forget the probes in flight under the old policy nor split one address's checks in two.
template <class Result>
class ProbeCoordinator {
 public:
  // The caps a new probe is admitted under. They come with each call, from the caller's policy,
  // so a reload changes them for new probes at once while the probes in flight stay counted, and
  // a reload that fails to load changes nothing.
  struct Limits {
    size_t maxProbes = 20;
    size_t maxPerDomain = 2;
  };

  enum class Status {
    Done,      // this call ran the probe
    Shared,    // another call's probe answered
    TooMany,   // the caps were reached: nothing ran
    TimedOut,  // another call's probe did not answer within `wait`
    Failed,    // another call's probe threw (that call gets the exception)
  };

  // Runs `probe` for `key` unless one is already running (then waits for its result, up to
  // `wait`). Returns the result and how it was obtained. If `probe` throws, the exception goes to
  // this call's caller, and the calls waiting for it are told Failed at once.
  std::pair<Status, std::optional<Result>> run(const std::string& key, const std::string& domain,
                                               const Limits& limits, std::chrono::milliseconds wait,
                                               const std::function<Result()>& probe) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard lock(mutex_);
      auto it = flights_.find(key);
      if (it != flights_.end()) {
        flight = it->second;
        ++flight->sharers;
      } else {
        auto inDomain = perDomain_.find(domain);
        if (running_ >= limits.maxProbes ||
            (inDomain != perDomain_.end() && inDomain->second >= limits.maxPerDomain))
          return {Status::TooMany, std::nullopt};
        // In this order, so that an allocation failing here leaves nothing counted.
        flight = std::make_shared<Flight>();
        flights_.emplace(key, flight);
        try {
          ++perDomain_[domain];
        } catch (...) {
          flights_.erase(key);
          throw;
        }
        ++running_;
        leader = true;
      }
    }
    if (leader) return lead(key, domain, *flight, probe);
    std::unique_lock lock(flight->mutex);
    if (!flight->done.wait_for(lock, wait, [&] { return flight->result || flight->failed; }))
      return {Status::TimedOut, std::nullopt};
    if (flight->failed) return {Status::Failed, std::nullopt};
    return {Status::Shared, flight->result};
  }

  // How many calls have joined the probe of `key` now in flight (0 when none is): for tests and
  // diagnostics.
  size_t sharers(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = flights_.find(key);
    return it == flights_.end() ? 0 : it->second->sharers;
  }

  // Probes in progress, all domains.
  size_t running() const {
    std::lock_guard lock(mutex_);
    return running_;
  }

 private:
  struct Flight {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<Result> result;  // set by the leader when its probe returned
    bool failed = false;           // set when its probe threw
    size_t sharers = 0;            // guarded by the coordinator's mutex_
  };

  // Ends a flight on every way out of the probe, returning or throwing: without it a probe that
  // threw stayed in flights_ for good, holding its cap slots, and every later check of the
  // address joined it and waited out its deadline.
  struct Landing {
    ProbeCoordinator& coordinator;
    const std::string& key;
    const std::string& domain;
    Flight& flight;
    ~Landing() { coordinator.land(key, domain, flight); }
  };

  std::pair<Status, std::optional<Result>> lead(const std::string& key, const std::string& domain,
                                                Flight& flight,
                                                const std::function<Result()>& probe) {
    Landing landing{*this, key, domain, flight};
    Result result = probe();
    {
      std::lock_guard lock(flight.mutex);
      flight.result = result;
    }
    flight.done.notify_all();
    return {Status::Done, std::move(result)};
  }

  void land(const std::string& key, const std::string& domain, Flight& flight) {
    {
      std::lock_guard lock(mutex_);
      auto it = flights_.find(key);
      if (it != flights_.end() && it->second.get() == &flight) flights_.erase(it);
      --running_;
      auto inDomain = perDomain_.find(domain);
      if (inDomain != perDomain_.end() && --inDomain->second == 0) perDomain_.erase(inDomain);
    }
    // A probe that returned has published its result already. One that threw is out of flights_
    // before its waiters hear of it, so a check arriving now starts a fresh probe instead of
    // joining the failed one.
    bool threw;
    {
      std::lock_guard lock(flight.mutex);
      threw = !flight.result;
      if (threw) flight.failed = true;
    }
    if (threw) flight.done.notify_all();
  }

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
  std::map<std::string, size_t> perDomain_;
  size_t running_ = 0;
};

}  // namespace mxguard::stages
