// memory_store.cpp - expiry is lazy (on access) plus eager at insert time for the shard being
// written, so memory stays bounded without a sweeper thread.
// Must not: hand out references into the maps (callers get copies).
#include "store/memory_store.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "store/greylist_step.h"

namespace mxguard::store {

const char* toString(StoreStatus s) {
  switch (s) {
    case StoreStatus::Ok:
      return "ok";
    case StoreStatus::NotFound:
      return "not found";
    case StoreStatus::Unavailable:
      return "unavailable";
  }
  return "?";
}

MemoryStore::MemoryStore(size_t maxEntries, Clock clock)
    : maxPerShard_(std::max<size_t>(1, maxEntries / kShards)),
      clock_(clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); }) {}

MemoryStore::Shard& MemoryStore::shardFor(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

void MemoryStore::expireLocked(Shard& s, TimePoint now) {
  for (auto& queue : s.byExpiry) {
    while (!queue.empty() && queue.begin()->first <= now) {
      s.entries.erase(queue.begin()->second);
      queue.erase(queue.begin());
    }
  }
}

void MemoryStore::evictOneLocked(Shard& s) {
  // Within a tier, the entry that would expire first is the least valuable one; for a bucket,
  // the one nearest to full, i.e. the smallest debt.
  for (auto& queue : s.byExpiry) {
    if (queue.empty()) continue;
    s.entries.erase(queue.begin()->second);
    queue.erase(queue.begin());
    return;
  }
}

void MemoryStore::putLocked(Shard& s, const std::string& key, std::string value, TimePoint expiry,
                            Tier tier) {
  eraseLocked(s, key);
  expireLocked(s, clock_());
  while (s.entries.size() >= maxPerShard_ && !s.entries.empty()) evictOneLocked(s);
  auto pos = s.byExpiry[tier].emplace(expiry, key);
  s.entries.emplace(key, Entry{std::move(value), expiry, tier, pos});
}

MemoryStore::Entry* MemoryStore::findLocked(Shard& s, const std::string& key, TimePoint now) {
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return nullptr;
  if (it->second.expiry <= now) {
    s.byExpiry[it->second.tier].erase(it->second.byExpiry);
    s.entries.erase(it);
    return nullptr;
  }
  return &it->second;
}

void MemoryStore::eraseLocked(Shard& s, const std::string& key) {
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return;
  s.byExpiry[it->second.tier].erase(it->second.byExpiry);
  s.entries.erase(it);
}

std::vector<std::unique_lock<std::mutex>> MemoryStore::lockShards(
    std::initializer_list<const std::string*> keys) {
  std::vector<size_t> indexes;
  for (const std::string* k : keys) indexes.push_back(&shardFor(*k) - shards_.data());
  std::sort(indexes.begin(), indexes.end());
  indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  for (size_t i : indexes) locks.emplace_back(shards_[i].mutex);
  return locks;
}

StoreResult MemoryStore::get(const std::string& key) {
  Shard& s = shardFor(key);
  std::lock_guard guard(s.mutex);
  Entry* e = findLocked(s, key, clock_());
  if (!e) return {StoreStatus::NotFound, "", ""};
  return {StoreStatus::Ok, e->value, ""};
}

StoreResult MemoryStore::set(const std::string& key, const std::string& value,
                             std::chrono::seconds ttl) {
  Shard& s = shardFor(key);
  std::lock_guard guard(s.mutex);
  putLocked(s, key, value, clock_() + std::max(ttl, std::chrono::seconds(1)));
  return {StoreStatus::Ok, "", ""};
}

TokenResult MemoryStore::takeToken(const std::string& key, double capacity, double refillPerSecond,
                                   double cost) {
  cost = std::min(cost, capacity);
  Shard& s = shardFor(key);
  std::lock_guard guard(s.mutex);
  TimePoint now = clock_();
  double tokens = capacity;
  auto it = s.entries.find(key);
  if (it != s.entries.end() && it->second.expiry > now) {
    // value: "<tokens> <milliseconds since the clock's epoch at the last refill>"
    double stored = 0;
    long long lastMs = 0;
    if (std::sscanf(it->second.value.c_str(), "%lf %lld", &stored, &lastMs) == 2) {
      long long nowMs =
          std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
      tokens =
          std::min(capacity, stored + std::max(0LL, nowMs - lastMs) / 1000.0 * refillPerSecond);
    }
  }
  TokenResult r{StoreStatus::Ok, false, 0, std::chrono::milliseconds(0), ""};
  if (tokens >= cost) {
    tokens -= cost;
    r.allowed = true;
  } else {
    r.retryAfter = std::chrono::milliseconds(static_cast<long long>(
        std::ceil((cost - tokens) / std::max(refillPerSecond, 1e-6) * 1000)));
  }
  r.remaining = tokens;
  double debt = capacity - tokens;
  if (debt <= 0) {
    eraseLocked(s, key);  // full: the same as absent, and takes no room
    return r;
  }
  long long nowMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // Kept until it is full again, and no longer: an exhausted bucket outlives a fresh one (which
  // is nearly full after one take), so a flood of new keys cannot push out a debt.
  // At most a year: a huge byte burst at 1/d must not overflow the clock's nanoseconds.
  double refillMs = std::min(std::ceil(debt / std::max(refillPerSecond, 1e-6) * 1000), 3.2e10);
  auto refilled = std::chrono::milliseconds(static_cast<long long>(refillMs));
  putLocked(s, key, std::to_string(tokens) + " " + std::to_string(nowMs),
            now + std::max(refilled, std::chrono::milliseconds(1)), kDebt);
  return r;
}

bool MemoryStore::countPassLocked(const GreylistKeys& keys, const GreylistTimes& t, TimePoint now) {
  TimePoint expiry = now + std::max(t.autoAllowTtl, std::chrono::seconds(1));
  Shard& counter = shardFor(keys.network);
  long long passes = 1;
  if (Entry* e = findLocked(counter, keys.network, now))
    passes = std::strtoll(e->value.c_str(), nullptr, 10) + 1;
  if (t.autoAllowAfter > 0 && passes >= t.autoAllowAfter) {
    eraseLocked(counter, keys.network);  // auto-allow answers before the counter is read again
    putLocked(shardFor(keys.autoAllow), keys.autoAllow, "1", expiry);
    return true;
  }
  putLocked(counter, keys.network, std::to_string(passes), expiry);
  return false;
}

GreylistResult MemoryStore::greylist(const GreylistKeys& keys, const GreylistTimes& t) {
  auto locks = lockShards({&keys.triplet, &keys.network, &keys.autoAllow});
  TimePoint now = clock_();
  GreylistResult r;
  r.status = StoreStatus::Ok;
  Shard& allowShard = shardFor(keys.autoAllow);
  if (Entry* e = findLocked(allowShard, keys.autoAllow, now)) {
    r.verdict = GreylistVerdict::AutoAllowed;
    putLocked(allowShard, keys.autoAllow, e->value,
              now + std::max(t.autoAllowTtl, std::chrono::seconds(1)));
    return r;
  }
  Shard& tripletShard = shardFor(keys.triplet);
  Entry* e = findLocked(tripletShard, keys.triplet, now);
  TripletStep step = stepTriplet(e ? &e->value : nullptr, t);
  r.verdict = step.verdict;
  r.waitLeft = step.waitLeft;
  r.waited = step.waited;
  r.firstAttempt = step.firstAttempt;
  if (step.write) putLocked(tripletShard, keys.triplet, std::move(*step.write), now + step.ttl);
  if (step.countsPass()) r.nowAutoAllowed = countPassLocked(keys, t, now);
  return r;
}

std::string MemoryStore::describe() const {
  return "memory (" + std::to_string(maxPerShard_ * kShards) + " entries)";
}

size_t MemoryStore::size() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard guard(s.mutex);
    n += s.entries.size();
  }
  return n;
}

}  // namespace mxguard::store
