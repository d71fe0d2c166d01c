// memory_store.cpp - expiry is lazy (on access) plus eager at insert time for the shard being
// written, so memory stays bounded without a sweeper thread.
// Must not: hand out references into the maps (callers get copies).
#include "store/memory_store.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

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
  while (!s.byExpiry.empty() && s.byExpiry.begin()->first <= now) {
    s.entries.erase(s.byExpiry.begin()->second);
    s.byExpiry.erase(s.byExpiry.begin());
  }
}

void MemoryStore::putLocked(Shard& s, const std::string& key, std::string value, TimePoint expiry) {
  auto it = s.entries.find(key);
  if (it != s.entries.end()) {
    s.byExpiry.erase(it->second.byExpiry);
    s.entries.erase(it);
  }
  expireLocked(s, clock_());
  while (s.entries.size() >= maxPerShard_ && !s.byExpiry.empty()) {
    // Full: the entry that would expire first is the least valuable one.
    s.entries.erase(s.byExpiry.begin()->second);
    s.byExpiry.erase(s.byExpiry.begin());
  }
  auto pos = s.byExpiry.emplace(expiry, key);
  s.entries.emplace(key, Entry{std::move(value), expiry, pos});
}

StoreResult MemoryStore::get(const std::string& key) {
  Shard& s = shardFor(key);
  std::lock_guard guard(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return {StoreStatus::NotFound, "", ""};
  if (it->second.expiry <= clock_()) {
    s.byExpiry.erase(it->second.byExpiry);
    s.entries.erase(it);
    return {StoreStatus::NotFound, "", ""};
  }
  return {StoreStatus::Ok, it->second.value, ""};
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
  long long nowMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // Kept until a full refill would have happened anyway.
  auto ttl = std::chrono::milliseconds(
      static_cast<long long>(std::ceil(capacity / std::max(refillPerSecond, 1e-6) * 1000)) + 1000);
  putLocked(s, key, std::to_string(tokens) + " " + std::to_string(nowMs), now + ttl);
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
