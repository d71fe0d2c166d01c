// clock.h - the time the engine and stages read: monotonic for deadlines and TTLs, wall-clock
// for dates (a Date header's age, a cached callout's timestamp). Injected through the
// Connection so tests set the time instead of sleeping or depending on today's date.
// Must not: be read as std::chrono::*_clock::now() by engine or stage code (use Connection::clock).
#pragma once

#include <chrono>

namespace mxguard {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() const = 0;
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
};

// The real clocks; a process-wide immutable object.
const Clock& systemClock();

}  // namespace mxguard
