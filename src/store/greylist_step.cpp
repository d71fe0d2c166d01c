// greylist_step.cpp - postgrey's triplet rules: a first attempt is remembered for the retry window,
// a retry between `delay` and the window passes, a passed triplet is known until it goes unused.
// Must not: judge the window by when an entry expires (TTLs only bound memory; `now` decides).
#include "store/greylist_step.h"

#include <algorithm>
#include <charconv>

namespace mxguard::store {
namespace {

std::chrono::seconds atLeastOneSecond(std::chrono::seconds s) {
  return std::max(s, std::chrono::seconds(1));
}

TripletStep firstAttempt(const GreylistTimes& t) {
  TripletStep s;
  s.waitLeft = t.delay;
  s.firstAttempt = true;
  s.write = std::to_string(t.now) + ":0";
  s.ttl = atLeastOneSecond(t.retryWindow);
  return s;
}

TripletStep passedRetry(int64_t firstSeen, int64_t elapsed, const GreylistTimes& t) {
  TripletStep s;
  s.verdict = GreylistVerdict::PassedRetry;
  s.waited = std::chrono::seconds(elapsed);
  s.write = std::to_string(firstSeen) + ":1";
  s.ttl = atLeastOneSecond(t.passTtl);
  return s;
}

}  // namespace

bool parseTriplet(const std::string& value, int64_t* firstSeen, bool* passed) {
  const char* end = value.data() + value.size();
  auto [p, ec] = std::from_chars(value.data(), end, *firstSeen);
  if (ec != std::errc() || end - p != 2 || p[0] != ':' || (p[1] != '0' && p[1] != '1'))
    return false;
  *passed = p[1] == '1';
  return true;
}

TripletStep stepTriplet(const std::string* stored, const GreylistTimes& t) {
  int64_t first = 0;
  bool passed = false;
  if (!stored || !parseTriplet(*stored, &first, &passed)) {
    if (t.delay.count() <= 0) return passedRetry(t.now, 0, t);
    return firstAttempt(t);
  }
  if (passed) {
    TripletStep s;
    s.verdict = GreylistVerdict::Known;
    s.write = *stored;  // unchanged, its TTL refreshed: remembered while in use
    s.ttl = atLeastOneSecond(t.passTtl);
    return s;
  }
  // Another MX of the fleet may have recorded the first attempt a little ahead of our clock.
  int64_t elapsed = std::max<int64_t>(0, t.now - first);
  if (elapsed < t.delay.count()) {
    TripletStep s;
    s.waitLeft = std::chrono::seconds(t.delay.count() - elapsed);
    return s;
  }
  if (elapsed > t.retryWindow.count()) return firstAttempt(t);  // gave up long ago: start over
  return passedRetry(first, elapsed, t);
}

}  // namespace mxguard::store
