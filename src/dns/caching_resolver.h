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
// Bounded in entries and in bytes (issue 28: with only an entry bound, 20,000 answers of 60 KB
// TXT records each took the daemon to 1.2 GB): an answer over kMaxEntryBytes is passed through
// but not kept (DKIM keys are under 2 KB, SPF records a few KB; only a hostile zone serves
// more), and the least recently used answers go until the total fits maxBytes.
// Must not: serve an answer past its TTL while the servers answer, hold more than maxEntries
// answers or maxBytes bytes of them, or call the inner resolver while holding its lock (a
// lookup can wait for seconds).
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
  static constexpr size_t kDefaultMaxBytes = 64 * 1024 * 1024;
  static constexpr size_t kMaxEntryBytes = 64 * 1024;  // larger answers are not kept

  CachingResolver(
      ResolverSharedPtr inner, size_t maxEntries, size_t maxBytes = kDefaultMaxBytes,
      Clock clock = [] { return std::chrono::steady_clock::now(); });

  std::vector<LookupResult> lookupAll(const std::vector<Query>& queries,
                                      std::chrono::milliseconds timeout) override;

  size_t size() const;
  size_t bytes() const;  // what the kept answers are charged (entryBytes), summed

  // What one kept answer costs, approximately: its key and strings with their allocation
  // overhead, the map and list nodes. An estimate, so the bound holds within a small factor.
  static size_t entryBytes(const std::string& key, const LookupResult& r);

 private:
  struct Entry {
    LookupResult result;
    std::chrono::steady_clock::time_point expires;
    // Until when serveStale may use it: the last fresh answer's expiry + kMaxStale.
    std::chrono::steady_clock::time_point staleUntil;
    std::list<std::string>::iterator age;  // position in lru_ (front = most recently used)
    size_t bytes = 0;                      // entryBytes when stored
  };

  // A fresh answer into out; false when there is none (an expired one may stay for serveStale).
  bool find(const std::string& key, std::chrono::steady_clock::time_point now, LookupResult& out);
  bool serveStale(const std::string& key, std::chrono::steady_clock::time_point now,
                  LookupResult& out);
  void store(const std::string& key, const LookupResult& r,
             std::chrono::steady_clock::time_point now);
  // Drops the least recently used entries until `bytes` more and one more entry fit.
  void makeRoom(size_t bytes);
  void erase(std::unordered_map<std::string, Entry>::iterator it);

  ResolverSharedPtr inner_;
  size_t maxEntries_;
  size_t maxBytes_;
  size_t bytes_ = 0;
  Clock clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;
};

}  // namespace mxguard::dns
