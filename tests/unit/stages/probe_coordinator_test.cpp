// probe_coordinator_test.cpp - single-flight and caps of the callout probes on their own: a probe
// that throws ends its flight, frees its cap slots and tells its waiters at once; a waiter waits no
// longer than its own deadline; the caps come with each call while the probes in flight stay
// counted. Threads are ordered with latches; time bounds are wide, so nothing depends on speed.
#include "stages/callout/probe_coordinator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <latch>
#include <stdexcept>
#include <thread>

namespace mxguard::testing {
namespace {

using namespace std::chrono_literals;
using Coordinator = stages::ProbeCoordinator<int>;
using Status = Coordinator::Status;
using Clock = std::chrono::steady_clock;

constexpr Coordinator::Limits kOne{1, 1};

// Polls `condition` (another thread's progress) for up to 30 s.
bool eventually(const std::function<bool()>& condition) {
  auto deadline = Clock::now() + 30s;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

int mustNotProbe() {
  ADD_FAILURE() << "a call that joins a flight must not probe";
  return 0;
}

TEST(ProbeCoordinator, AProbeThatThrowsEndsItsFlightFreesItsSlotsAndTellsItsWaiters) {
  Coordinator c;
  std::latch started{1}, release{1};
  std::thread leader([&] {
    EXPECT_THROW(c.run("a@x.example", "x.example", kOne, 30s,
                       [&]() -> int {
                         started.count_down();
                         release.wait();
                         throw std::runtime_error("probe exploded");
                       }),
                 std::runtime_error)
        << "the leader's caller gets the exception";
  });
  started.wait();
  std::pair<Status, std::optional<int>> joined{Status::Done, 0};
  auto waited = Clock::duration::max();
  std::thread waiter([&] {
    auto start = Clock::now();
    joined = c.run("a@x.example", "x.example", kOne, 30s, mustNotProbe);
    waited = Clock::now() - start;
  });
  ASSERT_TRUE(eventually([&] { return c.sharers("a@x.example") == 1; }));
  release.count_down();
  leader.join();
  waiter.join();
  EXPECT_EQ(joined.first, Status::Failed);
  EXPECT_FALSE(joined.second);
  EXPECT_LT(waited, 5s) << "the waiter must not wait out its 30 s deadline";
  EXPECT_EQ(c.sharers("a@x.example"), 0u);
  EXPECT_EQ(c.running(), 0u);

  // The same key again: a fresh probe at once, not a join of the dead flight.
  auto start = Clock::now();
  auto again = c.run("a@x.example", "x.example", kOne, 30s, [] { return 7; });
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(again.first, Status::Done);
  EXPECT_EQ(again.second, 7);
  // Its slots were released: with one probe allowed in all and per domain, others run.
  EXPECT_EQ(c.run("b@y.example", "y.example", kOne, 30s, [] { return 8; }).first, Status::Done);
  EXPECT_EQ(c.run("c@x.example", "x.example", kOne, 30s, [] { return 9; }).first, Status::Done);
}

TEST(ProbeCoordinator, ConcurrentCallsForOneKeyShareOneProbe) {
  Coordinator c;
  std::latch started{1}, release{1};
  std::pair<Status, std::optional<int>> led;
  std::thread leader([&] {
    led = c.run("a@x.example", "x.example", kOne, 30s, [&] {
      started.count_down();
      release.wait();
      return 42;
    });
  });
  started.wait();
  std::pair<Status, std::optional<int>> shared;
  std::thread waiter([&] { shared = c.run("a@x.example", "x.example", kOne, 30s, mustNotProbe); });
  ASSERT_TRUE(eventually([&] { return c.sharers("a@x.example") == 1; }));
  release.count_down();
  leader.join();
  waiter.join();
  EXPECT_EQ(led.first, Status::Done);
  EXPECT_EQ(led.second, 42);
  EXPECT_EQ(shared.first, Status::Shared);
  EXPECT_EQ(shared.second, 42);
  EXPECT_EQ(c.running(), 0u);
}

TEST(ProbeCoordinator, AWaiterWaitsNoLongerThanItsOwnDeadline) {
  Coordinator c;
  std::latch started{1}, release{1};
  std::thread leader([&] {
    c.run("a@x.example", "x.example", kOne, 30s, [&] {
      started.count_down();
      release.wait();
      return 1;
    });
  });
  started.wait();
  auto start = Clock::now();
  auto r = c.run("a@x.example", "x.example", kOne, 50ms, mustNotProbe);
  auto waited = Clock::now() - start;
  release.count_down();
  leader.join();
  EXPECT_EQ(r.first, Status::TimedOut);
  EXPECT_FALSE(r.second);
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 25s);
}

TEST(ProbeCoordinator, CapsComeWithEachCallAndProbesInFlightStayCounted) {
  // What a reload does: the new policy's caps apply to the probes it starts, the probe started
  // under the old caps is still counted.
  Coordinator c;
  std::latch started{1}, release{1};
  std::thread leader([&] {
    c.run("a@x.example", "x.example", kOne, 30s, [&] {
      started.count_down();
      release.wait();
      return 1;
    });
  });
  started.wait();
  auto other = [] { return 2; };
  EXPECT_EQ(c.run("b@y.example", "y.example", kOne, 30s, other).first, Status::TooMany);
  EXPECT_EQ(c.run("b@x.example", "x.example", {5, 1}, 30s, other).first, Status::TooMany)
      << "one probe to x.example already";
  EXPECT_EQ(c.run("b@x.example", "x.example", {5, 2}, 30s, other).first, Status::Done);
  EXPECT_EQ(c.run("b@y.example", "y.example", {2, 1}, 30s, other).first, Status::Done);
  EXPECT_EQ(c.running(), 1u);
  release.count_down();
  leader.join();
  EXPECT_EQ(c.running(), 0u);
  EXPECT_EQ(c.run("b@y.example", "y.example", kOne, 30s, other).first, Status::Done);
}

}  // namespace
}  // namespace mxguard::testing
