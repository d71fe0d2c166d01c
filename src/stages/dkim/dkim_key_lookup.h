// dkim_key_lookup.h - libopendkim's key lookup callback on our dns::Resolver: TXT
// <selector>._domainkey.<domain> with the stage's timeout, through the transaction's answer cache
// (keys prefetched at end of headers are not asked twice), and what happened, per signature.
// Must not: use libopendkim's own resolver or a key file, or throw into C code.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "core/connection.h"
#include "core/resolver.h"
#include "stages/dkim/dkim_lib.h"

namespace mxguard::stages {

struct KeyLookupOutcome {
  // Policy: the key was fetched but we refuse to verify with it (its RSA exponent).
  enum class Kind { Ok, NotFound, Temporary, Permanent, Policy };
  Kind kind = Kind::Ok;
  std::string reason;  // "key not found", "key lookup timed out", ...
};

// Reached from the callback through dkim_set_user_context; one per DKIM handle (per message).
struct KeyLookupContext {
  dns::Resolver* resolver = nullptr;
  std::chrono::milliseconds timeout{5000};
  Connection* tx = nullptr;  // set around each libopendkim call; null = no answer cache
  std::map<const DKIM_SIGINFO*, KeyLookupOutcome> outcomes;
};

// The TXT name of a signature's key; empty when d= or s= is missing.
std::string keyQueryName(std::string_view selector, std::string_view domain);

// For dkim_set_key_lookup. NXDOMAIN/NODATA -> DKIM_CBSTAT_NOTFOUND, TempFail ->
// DKIM_CBSTAT_TRYAGAIN, anything unusable -> DKIM_CBSTAT_ERROR; the reason is in the context.
extern "C" DKIM_CBSTAT dkimKeyLookup(DKIM* dkim, DKIM_SIGINFO* sig, u_char* buf, size_t buflen);

}  // namespace mxguard::stages
