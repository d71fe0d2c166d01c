// greylist_step.h - the triplet half of a greylisting step (store.h, Store::greylist, step 2) as a
// pure function of the stored value and the caller's times, for stores that run it in-process.
// Must not: touch a store, a lock or a clock (the caller holds the locks and owns the keys).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "store/store.h"

namespace mxguard::store {

struct TripletStep {
  GreylistVerdict verdict = GreylistVerdict::Greylisted;  // Known, PassedRetry or Greylisted
  std::chrono::seconds waitLeft{0};
  std::chrono::seconds waited{0};
  bool firstAttempt = false;
  std::optional<std::string> write;  // the value to store with `ttl` (also a refresh); none: keep
  std::chrono::seconds ttl{1};       // >= 1 s
  bool countsPass() const { return verdict != GreylistVerdict::Greylisted; }
};

// `stored`: the triplet's value, or null when absent.
TripletStep stepTriplet(const std::string* stored, const GreylistTimes& t);

// "FIRST_SEEN_EPOCH:PASSED" with PASSED 0 or 1; false for anything else.
bool parseTriplet(const std::string& value, int64_t* firstSeen, bool* passed);

}  // namespace mxguard::store
