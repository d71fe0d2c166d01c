// dkim_result.h - one signature's RFC 8601 result (pass, fail, policy, neutral, temperror,
// permerror) and a short reason, from what libopendkim and our key lookup reported, with the
// RFC 8301 floor applied on top: rsa-sha1 and RSA keys under 1024 bits are never a pass (nor
// RSA exponents other than 3 and 65537: KeyLookupOutcome::Kind::Policy).
// Must not: call libopendkim (the facts are gathered by the stage); pure, so it is tested alone.
#pragma once

#include <optional>
#include <string>

#include "stages/dkim/dkim_key_lookup.h"

namespace mxguard::stages {

struct SignatureFacts {
  unsigned flags = 0;                      // DKIM_SIGFLAG_*
  int bodyHash = DKIM_SIGBH_UNTESTED;      // DKIM_SIGBH_*
  int error = DKIM_SIGERROR_UNKNOWN;       // DKIM_SIGERROR_*
  std::string errorText;                   // dkim_sig_geterrorstr(error), may be empty
  int algorithm = DKIM_SIGN_UNKNOWN;       // DKIM_SIGN_*
  unsigned keyBits = 0;                    // 0 = unknown
  bool queryMethodUsable = true;           // q= names dns/txt (or is absent)
  std::optional<KeyLookupOutcome> lookup;  // our callback's outcome, if it ran for this one
  bool internalError = false;              // libopendkim ran out of resources processing it
};

struct SignatureResult {
  std::string result;  // RFC 8601 2.7.1 vocabulary
  std::string reason;
};

// One signature as the stage reports it: whose (d=, s=, the first 8 characters of b= for
// RFC 8601's header.b) and its result.
struct SignatureOutcome {
  std::string d, s, b8, result, reason;
};

constexpr unsigned kMinRsaBits = 1024;  // RFC 8301 3.2

SignatureResult classifySignature(const SignatureFacts& f);

}  // namespace mxguard::stages
