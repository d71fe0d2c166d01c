// reverse_name.h - the client's reverse DNS: PTR names and whether one of them resolves back to
// the client address (Postfix's "verified" client name). Shared by the rdns and helo stages;
// answers are cached in the Connection so the lookups happen once per connection.
// Must not: decide anything: callers turn the status into their own checks.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/connection.h"
#include "core/resolver.h"

namespace mxguard::stages {

struct ReverseName {
  enum class Status {
    Confirmed,
    NoPtr,
    NotConfirmed,
    PtrTempFail,
    ForwardTempFail,
    PtrOnly,  // PTR names found; forward confirmation not asked for
  } status;
  std::vector<std::string> ptrNames;  // at most kMaxPtrNames
  std::string confirmedName;          // when Confirmed
  std::string error;                  // DNS error text for the TempFail states
};

constexpr size_t kMaxPtrNames = 10;

dns::Query ptrQuery(const IpAddress& ip);
// `confirm` = false: the PTR lookup only (no check needs the forward lookups).
ReverseName lookupReverseName(Connection& tx, dns::Resolver& resolver, const IpAddress& ip,
                              std::chrono::milliseconds timeout, bool confirm = true);

}  // namespace mxguard::stages
