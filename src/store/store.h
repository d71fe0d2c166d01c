// store.h - the shared-state interface (callout cache, rate limits, greylisting): get, set with a
// TTL, and the atomic token-bucket take and greylisting step. Results are typed so callers can
// tell "not there" from "store down".
// Must not: throw on the data plane, or block longer than the implementation's configured timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mxguard::store {

enum class StoreStatus {
  Ok,
  NotFound,     // get: no such key (or it expired)
  Unavailable,  // the store could not answer in time (Redis down, slow, restarting)
};

const char* toString(StoreStatus s);

struct StoreResult {
  StoreStatus status = StoreStatus::Unavailable;
  std::string value;  // get: the value when Ok
  std::string error;  // Unavailable: why ("connection refused", "timed out after 200 ms")
};

struct TokenResult {
  StoreStatus status = StoreStatus::Unavailable;  // Ok or Unavailable
  bool allowed = false;                           // the tokens were taken
  double remaining = 0;                           // tokens left after this take
  std::chrono::milliseconds retryAfter{0};        // refused: until `cost` tokens are back
  std::string error;
};

// The three keys one greylisting step reads and writes (the caller builds and namespaces them).
struct GreylistKeys {
  std::string triplet;    // the caller's key for (client network, sender, recipient)
  std::string network;    // the client network's pass counter (toward auto-allow)
  std::string autoAllow;  // present while the client network is auto-allowed
};

// The window is judged on `now` (the caller's clock, the same on every NTP-synced MX of a fleet),
// never on when a key happens to expire; TTLs only bound how long state is kept (each >= 1 s).
struct GreylistTimes {
  int64_t now = 0;  // seconds since the epoch, from the caller's clock (tests inject it; every MX
                    // of a fleet uses its own, NTP-synced)
  std::chrono::seconds delay{300};  // a retry passes once this long after the first attempt (0: the
                                    // first attempt passes)
  std::chrono::seconds retryWindow{172800};    // ... and no later than this after it
  std::chrono::seconds passTtl{3024000};       // a triplet that passed is remembered this long
                                               // after its last use
  std::chrono::seconds autoAllowTtl{3024000};  // the network's counter and auto-allow last this
                                               // long after their last use
  int autoAllowAfter = 5;  // passes (PassedRetry or Known) after which the network is
                           // auto-allowed; 0 = never
};

enum class GreylistVerdict { AutoAllowed, Known, PassedRetry, Greylisted };

struct GreylistResult {
  StoreStatus status = StoreStatus::Unavailable;  // Ok or Unavailable
  GreylistVerdict verdict = GreylistVerdict::Greylisted;
  std::chrono::seconds waitLeft{0};  // Greylisted: until a retry would pass
  std::chrono::seconds waited{0};    // PassedRetry: first attempt -> this retry
  bool firstAttempt = false;         // Greylisted: the triplet was new (or its window had expired)
  bool nowAutoAllowed = false;       // this pass made the network auto-allowed
  std::string error;                 // Unavailable: why
};

class Store {
 public:
  virtual ~Store() = default;
  virtual StoreResult get(const std::string& key) = 0;
  // Result i answers keys[i]. One round trip on a networked store (a phase that needs several
  // keys pays one wait, not one per key); here, one get after the other.
  virtual std::vector<StoreResult> getMany(const std::vector<std::string>& keys) {
    std::vector<StoreResult> out;
    out.reserve(keys.size());
    for (const auto& k : keys) out.push_back(get(k));
    return out;
  }
  // ttl >= 1 s. Returns Ok, or Unavailable with the reason.
  virtual StoreResult set(const std::string& key, const std::string& value,
                          std::chrono::seconds ttl) = 0;
  // Token bucket of `capacity` tokens refilled at `refillPerSecond` (smooth: no window edge to
  // let twice the rate through); takes `cost` tokens if there are that many, else none. A cost
  // above the capacity is taken as the capacity (one huge message empties the bucket rather than
  // being refused forever). Atomic across every process sharing the store.
  virtual TokenResult takeToken(const std::string& key, double capacity, double refillPerSecond,
                                double cost) = 0;
  TokenResult takeToken(const std::string& key, double capacity, double refillPerSecond) {
    return takeToken(key, capacity, refillPerSecond, 1);
  }
  // One greylisting step (postgrey's), atomic across every process sharing the store:
  // 1. autoAllow present: AutoAllowed, its TTL refreshed, nothing else touched.
  // 2. the triplet ("FIRST_SEEN_EPOCH:PASSED"): absent or unparseable -> "now:0" for retryWindow,
  //    Greylisted (firstAttempt), or with delay 0 a pass; pending -> Greylisted before `delay`,
  //    restarted (firstAttempt) after `retryWindow`, else PassedRetry ("first:1" for passTtl);
  //    passed -> Known, TTL refreshed to passTtl. A negative elapsed (clock skew) counts as 0.
  // 3. PassedRetry and Known count a pass for the network; the autoAllowAfter-th sets autoAllow.
  virtual GreylistResult greylist(const GreylistKeys& keys, const GreylistTimes& t) = 0;
  virtual std::string describe() const = 0;  // "memory (100000 entries)", "redis 127.0.0.1:6379"
};

using StoreSharedPtr = std::shared_ptr<Store>;

}  // namespace mxguard::store
