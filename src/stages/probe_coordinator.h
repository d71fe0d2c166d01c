// probe_coordinator.h - keeps callouts from becoming a weapon: concurrent checks of one address
// share one probe (single-flight), and probes in progress are capped globally and per domain.
// Must not: let a waiter wait longer than its own deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace mxguard::stages {

template <class Result>
class ProbeCoordinator {
 public:
  ProbeCoordinator(size_t maxProbes, size_t maxPerDomain)
      : maxProbes_(maxProbes), maxPerDomain_(maxPerDomain) {}

  enum class Status { Done, Shared, TooMany, TimedOut };

  // Runs `probe` for `key` unless one is already running (then waits for its result, up to
  // `wait`). Returns the result and how it was obtained.
  std::pair<Status, std::optional<Result>> run(const std::string& key, const std::string& domain,
                                               std::chrono::milliseconds wait,
                                               const std::function<Result()>& probe) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::unique_lock lock(mutex_);
      auto it = flights_.find(key);
      if (it != flights_.end()) {
        flight = it->second;
      } else {
        if (running_ >= maxProbes_ || perDomain_[domain] >= maxPerDomain_)
          return {Status::TooMany, std::nullopt};
        ++running_;
        ++perDomain_[domain];
        flight = std::make_shared<Flight>();
        flights_[key] = flight;
        leader = true;
      }
    }
    if (!leader) {
      std::unique_lock lock(flight->mutex);
      if (!flight->done.wait_for(lock, wait, [&] { return flight->result.has_value(); }))
        return {Status::TimedOut, std::nullopt};
      return {Status::Shared, flight->result};
    }
    Result result = probe();
    {
      std::lock_guard lock(flight->mutex);
      flight->result = result;
    }
    flight->done.notify_all();
    std::lock_guard lock(mutex_);
    flights_.erase(key);
    --running_;
    if (--perDomain_[domain] == 0) perDomain_.erase(domain);
    return {Status::Done, result};
  }

 private:
  struct Flight {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<Result> result;
  };
  size_t maxProbes_, maxPerDomain_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Flight>> flights_;
  std::map<std::string, size_t> perDomain_;
  size_t running_ = 0;
};

}  // namespace mxguard::stages
