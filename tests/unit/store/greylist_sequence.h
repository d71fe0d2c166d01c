// greylist_sequence.h - Store::greylist's rules as sequences of calls with exact expected results,
// run against the memory store (unit) and a real Redis (integration), so both obey one contract.
// Must not: depend on a store's TTL clock (the caller's `now` drives every step here).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "store/store.h"

namespace mxguard::store::greylist_sequence {

using std::chrono::seconds;

inline constexpr int64_t kT0 = 1796600000;

inline GreylistKeys keysFor(const std::string& network, const std::string& triplet) {
  return {"gl:t:" + network + "/" + triplet, "gl:n:" + network, "gl:a:" + network};
}

inline GreylistTimes at(int64_t now, GreylistTimes t = {}) {
  t.now = now;
  return t;
}

inline void expectVerdict(const GreylistResult& r, GreylistVerdict v, const char* where) {
  ASSERT_EQ(r.status, StoreStatus::Ok) << where << ": " << r.error;
  EXPECT_EQ(static_cast<int>(r.verdict), static_cast<int>(v)) << where;
}

// First attempt, early retry, retry after the delay, a later message, and a triplet whose
// window ran out without a retry.
inline void firstRetryKnownAndExpiredWindow(Store& store) {
  auto k = keysFor("192.0.2.0/24", "a@example.org>b@example.net");
  auto r = store.greylist(k, at(kT0));
  expectVerdict(r, GreylistVerdict::Greylisted, "first attempt");
  EXPECT_EQ(r.waitLeft, seconds(300));
  EXPECT_TRUE(r.firstAttempt);
  r = store.greylist(k, at(kT0 + 100));
  expectVerdict(r, GreylistVerdict::Greylisted, "early retry");
  EXPECT_EQ(r.waitLeft, seconds(200));
  EXPECT_FALSE(r.firstAttempt);
  r = store.greylist(k, at(kT0 + 301));
  expectVerdict(r, GreylistVerdict::PassedRetry, "retry after the delay");
  EXPECT_EQ(r.waited, seconds(301));
  EXPECT_FALSE(r.nowAutoAllowed);
  r = store.greylist(k, at(kT0 + 4000));
  expectVerdict(r, GreylistVerdict::Known, "next message");
  EXPECT_EQ(r.waitLeft, seconds(0));

  auto never = keysFor("192.0.2.0/24", "c@example.org>b@example.net");
  store.greylist(never, at(kT0));
  r = store.greylist(never, at(kT0 + 2 * 86400 + 1));
  expectVerdict(r, GreylistVerdict::Greylisted, "retry after the window");
  EXPECT_TRUE(r.firstAttempt);
  EXPECT_EQ(r.waitLeft, seconds(300));
  r = store.greylist(never, at(kT0 + 2 * 86400 + 1 + 300));  // the window restarted with it
  expectVerdict(r, GreylistVerdict::PassedRetry, "retry after the restart");
  EXPECT_EQ(r.waited, seconds(300));
}

// The third pass of a network (autoAllowAfter 3) auto-allows it: every triplet of it, even a new
// one, is then AutoAllowed; another network is not.
inline void autoAllowAfterPasses(Store& store) {
  GreylistTimes t;
  t.autoAllowAfter = 3;
  auto a = keysFor("198.51.100.0/24", "a@example.org>x@example.net");
  auto b = keysFor("198.51.100.0/24", "b@example.org>x@example.net");
  store.greylist(a, at(kT0, t));
  store.greylist(b, at(kT0, t));
  auto r = store.greylist(a, at(kT0 + 301, t));
  expectVerdict(r, GreylistVerdict::PassedRetry, "pass 1");
  EXPECT_FALSE(r.nowAutoAllowed);
  r = store.greylist(a, at(kT0 + 302, t));
  expectVerdict(r, GreylistVerdict::Known, "pass 2");
  EXPECT_FALSE(r.nowAutoAllowed);
  r = store.greylist(b, at(kT0 + 303, t));
  expectVerdict(r, GreylistVerdict::PassedRetry, "pass 3");
  EXPECT_TRUE(r.nowAutoAllowed);
  r = store.greylist(keysFor("198.51.100.0/24", "new@example.org>x@example.net"), at(kT0 + 304, t));
  expectVerdict(r, GreylistVerdict::AutoAllowed, "a new triplet of the network");
  EXPECT_FALSE(r.nowAutoAllowed);
  EXPECT_FALSE(r.firstAttempt);
  expectVerdict(store.greylist(a, at(kT0 + 305, t)), GreylistVerdict::AutoAllowed, "a known one");
  r = store.greylist(keysFor("203.0.113.0/24", "new@example.org>x@example.net"), at(kT0 + 306, t));
  expectVerdict(r, GreylistVerdict::Greylisted, "another network");
  EXPECT_TRUE(r.firstAttempt);
}

// autoAllowAfter 0: never auto-allowed, however many passes.
inline void autoAllowNever(Store& store) {
  GreylistTimes t;
  t.autoAllowAfter = 0;
  auto k = keysFor("192.0.2.128/25", "a@example.org>x@example.net");
  store.greylist(k, at(kT0, t));
  expectVerdict(store.greylist(k, at(kT0 + 300, t)), GreylistVerdict::PassedRetry, "pass");
  for (int i = 1; i <= 20; ++i) {
    auto r = store.greylist(k, at(kT0 + 300 + i, t));
    expectVerdict(r, GreylistVerdict::Known, "known");
    EXPECT_FALSE(r.nowAutoAllowed);
  }
}

// Delay 0: the first attempt passes (and is remembered as passed).
inline void zeroDelayPassesAtOnce(Store& store) {
  GreylistTimes t;
  t.delay = seconds(0);
  auto k = keysFor("192.0.2.64/26", "a@example.org>x@example.net");
  auto r = store.greylist(k, at(kT0, t));
  expectVerdict(r, GreylistVerdict::PassedRetry, "first attempt, delay 0");
  EXPECT_EQ(r.waited, seconds(0));
  EXPECT_FALSE(r.firstAttempt);
  // Once passed it stays known, even when the delay is raised again.
  expectVerdict(store.greylist(k, at(kT0 + 1)), GreylistVerdict::Known, "next message");
}

// Another MX of the fleet, its clock 50 s ahead, saw the first attempt: our earlier `now` counts
// as no time elapsed, not as a negative wait.
inline void negativeElapsedCountsAsZero(Store& store) {
  auto k = keysFor("192.0.2.32/27", "a@example.org>x@example.net");
  store.greylist(k, at(kT0));
  auto r = store.greylist(k, at(kT0 - 50));
  expectVerdict(r, GreylistVerdict::Greylisted, "retry stamped before the first attempt");
  EXPECT_EQ(r.waitLeft, seconds(300));
  EXPECT_FALSE(r.firstAttempt);
  r = store.greylist(k, at(kT0 + 300));  // exactly the delay: passes
  expectVerdict(r, GreylistVerdict::PassedRetry, "retry at the delay");
  EXPECT_EQ(r.waited, seconds(300));
}

}  // namespace mxguard::store::greylist_sequence
