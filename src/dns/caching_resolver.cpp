// caching_resolver.cpp - see caching_resolver.h.
#include "dns/caching_resolver.h"

#include <algorithm>

#include "base/counters.h"

namespace mxguard::dns {

namespace {

std::string keyOf(const Query& q) {
  std::string key;
  key.reserve(q.name.size() + 6);
  // DNS names compare case-insensitively (ASCII only, RFC 4343; not the locale's tolower, which
  // costs a call per character): Example.NET and example.net share an entry.
  for (char c : q.name) key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  key += '/';
  key += std::to_string(static_cast<unsigned>(q.type));
  return key;
}

bool cacheable(const LookupResult& r) {
  return r.ttl > 0 && (r.status == LookupStatus::Ok || r.status == LookupStatus::NoData ||
                       r.status == LookupStatus::NotFound);
}

}  // namespace

CachingResolver::CachingResolver(ResolverSharedPtr inner, size_t maxEntries, size_t maxBytes,
                                 Clock clock)
    : inner_(std::move(inner)),
      maxEntries_(maxEntries),
      maxBytes_(maxBytes),
      clock_(std::move(clock)) {}

size_t CachingResolver::size() const {
  std::lock_guard guard(mutex_);
  return entries_.size();
}

size_t CachingResolver::bytes() const {
  std::lock_guard guard(mutex_);
  return bytes_;
}

size_t CachingResolver::entryBytes(const std::string& key, const LookupResult& r) {
  // 32: a std::string's allocation beyond its characters (header and malloc rounding); 2 keys:
  // the map's and the LRU list's copy; 160: the map node, list node and Entry's fixed part.
  constexpr size_t kString = 32, kFixed = 160;
  size_t n = kFixed + 2 * (key.size() + kString) + r.error.size() + kString;
  for (const auto& rec : r.records) n += rec.size() + kString;
  return n;
}

void CachingResolver::erase(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.age);
  entries_.erase(it);
}

void CachingResolver::makeRoom(size_t bytes) {
  while (!lru_.empty() && (entries_.size() >= maxEntries_ || bytes_ + bytes > maxBytes_)) {
    erase(entries_.find(lru_.back()));
    countEvent("dns.cache_evicted");
  }
}

bool CachingResolver::find(const std::string& key, std::chrono::steady_clock::time_point now,
                           LookupResult& out) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  if (it->second.expires <= now) {
    if (it->second.staleUntil > now) return false;  // asked again; kept for serveStale
    erase(it);
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second.age);
  out = it->second.result;
  auto left = std::chrono::ceil<std::chrono::seconds>(it->second.expires - now).count();
  out.ttl = static_cast<uint32_t>(std::max<long long>(left, 1));
  return true;
}

bool CachingResolver::serveStale(const std::string& key, std::chrono::steady_clock::time_point now,
                                 LookupResult& out) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.staleUntil <= now) return false;
  // Served as it was, for kStaleTtl: the lookups in between do not wait for a failing server.
  it->second.result.stale = true;
  it->second.result.ttl = kStaleTtl;
  it->second.expires = std::min(now + std::chrono::seconds(kStaleTtl), it->second.staleUntil);
  lru_.splice(lru_.begin(), lru_, it->second.age);
  out = it->second.result;
  return true;
}

void CachingResolver::store(const std::string& key, const LookupResult& r,
                            std::chrono::steady_clock::time_point now) {
  auto expires = now + std::chrono::seconds(std::min(r.ttl, kMaxTtl));
  auto staleUntil = expires + std::chrono::seconds(kMaxStale);
  // A new answer replaces the old one whole: the old is dropped first, so that an answer now
  // too large leaves nothing (not a stale copy of what the name used to hold).
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
  size_t bytes = entryBytes(key, r);
  if (bytes > kMaxEntryBytes || bytes > maxBytes_) {
    countEvent("dns.cache_too_large");
    return;
  }
  makeRoom(bytes);
  lru_.push_front(key);
  entries_.emplace(key, Entry{r, expires, staleUntil, lru_.begin(), bytes});
  bytes_ += bytes;
}

std::vector<LookupResult> CachingResolver::lookupAll(const std::vector<Query>& queries,
                                                     std::chrono::milliseconds timeout) {
  std::vector<LookupResult> out(queries.size());
  std::vector<std::string> keys(queries.size());
  std::vector<size_t> missing;
  {
    std::lock_guard guard(mutex_);
    auto now = clock_();
    for (size_t i = 0; i < queries.size(); ++i) {
      keys[i] = keyOf(queries[i]);
      if (!find(keys[i], now, out[i])) missing.push_back(i);
    }
  }
  if (missing.empty()) return out;
  std::vector<Query> ask;
  ask.reserve(missing.size());
  for (size_t i : missing) ask.push_back(queries[i]);
  auto answers = inner_->lookupAll(ask, timeout);
  std::lock_guard guard(mutex_);
  auto now = clock_();
  for (size_t j = 0; j < missing.size() && j < answers.size(); ++j) {
    auto& slot = out[missing[j]];
    slot = answers[j];
    if (maxEntries_ == 0) continue;
    if (cacheable(answers[j]))
      store(keys[missing[j]], answers[j], now);
    else if (answers[j].status == LookupStatus::TempFail && serveStale(keys[missing[j]], now, slot))
      countEvent("dns.stale_answer");
  }
  return out;
}

}  // namespace mxguard::dns
