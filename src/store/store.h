// store.h - the shared-state interface (callout cache, rate limits): get, set with a TTL, and an
// atomic token-bucket take. Results are typed so callers can tell "not there" from "store down".
// Must not: throw on the data plane, or block longer than the implementation's configured timeout.
#pragma once

#include <chrono>
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
  virtual std::string describe() const = 0;  // "memory (100000 entries)", "redis 127.0.0.1:6379"
};

using StoreSharedPtr = std::shared_ptr<Store>;

}  // namespace mxguard::store
