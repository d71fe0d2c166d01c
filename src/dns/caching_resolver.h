// caching_resolver.h - a process-wide cache of DNS answers in front of another Resolver.
// Why: every lookup through libunbound's async mode is a round trip through its thread and
// pipes (measured with the default policy: ~56 fcntl, 27 write and 29 read calls per message),
// even when libunbound answers from its own cache. A hit here costs one hash lookup.
// Keeps Ok, NoData and NotFound answers for their TTL, at most kMaxTtl; a served answer carries
// its remaining TTL. TempFail and PermFail are never kept: the next lookup asks again.
// Serve-stale (RFC 8767): an expired answer is asked again, and when that lookup fails
// temporarily (the DNS server is down or slow) the expired answer is served instead, marked
// stale, and kept kStaleTtl more before the next try; at most kMaxStale after it expired. Why:
// in a DNS outage the names every message needs (a sender domain's MX, a blocklist's answer for
// a busy client) otherwise fail one after the other as their TTLs run out, and stayed failed for
// seconds after the server was back (libunbound holds a failed lookup and its backed-off
// retries for a while; tests/reliability/README.md).
// Must not: serve an answer past its TTL while the servers answer, hold more than maxEntries
// answers, or call the inner resolver while holding its lock (a lookup can wait for seconds).
#pragma once

#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/resolver.h"

namespace mxguard::dns {

class CachingResolver : public Resolver {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr uint32_t kMaxTtl = 3600;     // a delisted client is not blocked for a day
  static constexpr uint32_t kStaleTtl = 30;     // RFC 8767 4: 30 s between tries while stale
  static constexpr uint32_t kMaxStale = 86400;  // RFC 8767 5: 1 to 3 days; the shortest

  CachingResolver(
      ResolverSharedPtr inner, size_t maxEntries,
      Clock clock = [] { return std::chrono::steady_clock::now(); });

  std::vector<LookupResult> lookupAll(const std::vector<Query>& queries,
                                      std::chrono::milliseconds timeout) override;

  size_t size() const;

 private:
  struct Entry {
    LookupResult result;
    std::chrono::steady_clock::time_point expires;
    // Until when serveStale may use it: the last fresh answer's expiry + kMaxStale.
    std::chrono::steady_clock::time_point staleUntil;
    std::list<std::string>::iterator age;  // position in lru_ (front = most recently used)
  };

  // A fresh answer into out; false when there is none (an expired one may stay for serveStale).
  bool find(const std::string& key, std::chrono::steady_clock::time_point now, LookupResult& out);
  bool serveStale(const std::string& key, std::chrono::steady_clock::time_point now,
                  LookupResult& out);
  void store(const std::string& key, const LookupResult& r,
             std::chrono::steady_clock::time_point now);

  ResolverSharedPtr inner_;
  size_t maxEntries_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;
};

}  // namespace mxguard::dns
