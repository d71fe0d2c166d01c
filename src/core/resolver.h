// resolver.h - the DNS lookup interface every stage uses: typed results, batched under deadlines.
// Must not: depend on libunbound or any other implementation detail (see unbound_resolver.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mxguard::dns {

enum class RrType : uint16_t {
  A = 1,
  NS = 2,
  CNAME = 5,
  SOA = 6,
  PTR = 12,
  MX = 15,
  TXT = 16,
  AAAA = 28
};

// Mirrors Postfix's dns.h: callers branch on "retry later" versus "does not exist".
enum class LookupStatus {
  Ok,        // answer with at least one record of the asked type
  NotFound,  // NXDOMAIN: the name does not exist
  NoData,    // the name exists but has no record of this type
  TempFail,  // SERVFAIL, timeout, no server reachable: try again later
  PermFail,  // malformed name, REFUSED, FORMERR: will not get better by retrying
};

inline const char* toString(LookupStatus s) {
  switch (s) {
    case LookupStatus::Ok:
      return "ok";
    case LookupStatus::NotFound:
      return "not found";
    case LookupStatus::NoData:
      return "no data";
    case LookupStatus::TempFail:
      return "temporary failure";
    case LookupStatus::PermFail:
      return "permanent failure";
  }
  return "?";
}

inline const char* toString(RrType t) {
  switch (t) {
    case RrType::A:
      return "A";
    case RrType::NS:
      return "NS";
    case RrType::CNAME:
      return "CNAME";
    case RrType::SOA:
      return "SOA";
    case RrType::PTR:
      return "PTR";
    case RrType::MX:
      return "MX";
    case RrType::TXT:
      return "TXT";
    case RrType::AAAA:
      return "AAAA";
  }
  return "?";
}

struct Query {
  std::string name;  // without trailing dot, e.g. "2.0.0.127.zen.example.net"
  RrType type = RrType::A;
  bool operator==(const Query&) const = default;
};

struct LookupResult {
  LookupStatus status = LookupStatus::TempFail;
  // Presentation form, one entry per record:
  //   A "192.0.2.1"; AAAA "2001:db8::1" (inet_ntop); PTR/CNAME/NS "host.example.net" (no trailing
  //   dot); MX "10 mx.example.net"; TXT the character-strings of one record concatenated.
  std::vector<std::string> records;
  uint32_t ttl = 0;   // smallest TTL of the answer (or of the SOA minimum for negative answers)
  std::string error;  // why, for TempFail/PermFail: "timed out after 200 ms", "SERVFAIL", ...
  // An expired answer served because the servers failed (RFC 8767; dns::CachingResolver).
  bool stale = false;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Issues every query at once and waits until all are answered or `timeout` has passed; queries
  // still unanswered then are TempFail ("timed out"). Result i answers query i. Thread-safe.
  virtual std::vector<LookupResult> lookupAll(const std::vector<Query>& queries,
                                              std::chrono::milliseconds timeout) = 0;

  LookupResult lookup(const std::string& name, RrType type, std::chrono::milliseconds timeout) {
    return lookupAll({Query{name, type}}, timeout).front();
  }
};

using ResolverSharedPtr = std::shared_ptr<Resolver>;

}  // namespace mxguard::dns
