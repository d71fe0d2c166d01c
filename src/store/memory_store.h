// memory_store.h - the embedded Store for a single host: sharded maps with TTL expiry and a bound
// on the number of entries (the entries closest to expiry go first when full).
// A token bucket is kept until it is full again (absent means full), and a bucket below its
// capacity (a debt) is evicted only when nothing else is left in its shard, the one nearest to
// full first. Why (issue 28): a flood of 110,000 keys from other addresses evicted a client's
// exhausted buckets, resetting its limits. Evicting anything else costs a greylist retry or a
// callout probe; evicting a debt lets mail through that a limit refused.
// Must not: grow without bound, or hold one lock for the whole store (shards keep threads apart).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace mxguard::store {

class MemoryStore : public Store {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit MemoryStore(size_t maxEntries = 100000, Clock clock = nullptr);

  StoreResult get(const std::string& key) override;
  StoreResult set(const std::string& key, const std::string& value,
                  std::chrono::seconds ttl) override;
  TokenResult takeToken(const std::string& key, double capacity, double refillPerSecond,
                        double cost) override;
  using Store::takeToken;
  // The three keys' shards locked together (in shard order), so the step is atomic.
  GreylistResult greylist(const GreylistKeys& keys, const GreylistTimes& t) override;
  std::string describe() const override;
  size_t size() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  using ExpiryQueue = std::multimap<TimePoint, std::string>;
  // Eviction goes through the tiers in this order.
  enum Tier { kPlain = 0, kDebt = 1, kTiers = 2 };
  struct Entry {
    std::string value;
    TimePoint expiry;
    Tier tier = kPlain;
    ExpiryQueue::iterator byExpiry;  // in the shard's byExpiry[tier]
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;
    std::array<ExpiryQueue, kTiers> byExpiry;  // eviction order within each tier
  };
  static constexpr size_t kShards = 16;

  Shard& shardFor(const std::string& key);
  // Each distinct shard of `keys` locked, in index order (no deadlock between two such calls).
  std::vector<std::unique_lock<std::mutex>> lockShards(
      std::initializer_list<const std::string*> keys);
  // All with the shard locked.
  void putLocked(Shard& s, const std::string& key, std::string value, TimePoint expiry,
                 Tier tier = kPlain);
  void expireLocked(Shard& s, TimePoint now);
  void evictOneLocked(Shard& s);
  // The live entry (an expired one is dropped), or null; valid until the shard is next written.
  Entry* findLocked(Shard& s, const std::string& key, TimePoint now);
  void eraseLocked(Shard& s, const std::string& key);
  // Greylisting step 3 with the network's and autoAllow's shards locked; true: now auto-allowed.
  bool countPassLocked(const GreylistKeys& keys, const GreylistTimes& t, TimePoint now);

  size_t maxPerShard_;
  Clock clock_;
  std::array<Shard, kShards> shards_;
};

}  // namespace mxguard::store
