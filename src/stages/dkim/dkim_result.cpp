// dkim_result.cpp - the order matters: a key we could not fetch (temperror) or refused by policy
// is reported before anything libopendkim could only guess without the key.
// Must not: turn anything but a verified signature with a matching body hash into a pass.
#include "stages/dkim/dkim_result.h"

namespace mxguard::stages {
namespace {

SignatureResult fromLookup(const KeyLookupOutcome& o) {
  switch (o.kind) {
    case KeyLookupOutcome::Kind::Temporary:
      return {"temperror", o.reason};
    case KeyLookupOutcome::Kind::NotFound:
    case KeyLookupOutcome::Kind::Permanent:
      return {"permerror", o.reason};
    case KeyLookupOutcome::Kind::Policy:
      // RFC 8601 2.7.1 "policy": signed, but with a key we do not accept (like a short one).
      return {"policy", o.reason};
    case KeyLookupOutcome::Kind::Ok:
      break;
  }
  return {"permerror", "key unusable"};
}

std::string smallKey(unsigned bits) {
  return "RSA key of " + std::to_string(bits) + " bits is under " + std::to_string(kMinRsaBits) +
         " (RFC 8301)";
}

bool isSignatureSyntaxError(int e) {
  switch (e) {
    case DKIM_SIGERROR_VERSION:
    case DKIM_SIGERROR_MISSING_V:
    case DKIM_SIGERROR_EMPTY_V:
    case DKIM_SIGERROR_DOMAIN:
    case DKIM_SIGERROR_EXPIRED:
    case DKIM_SIGERROR_FUTURE:
    case DKIM_SIGERROR_TIMESTAMPS:
    case DKIM_SIGERROR_INVALID_HC:
    case DKIM_SIGERROR_INVALID_BC:
    case DKIM_SIGERROR_MISSING_A:
    case DKIM_SIGERROR_INVALID_A:
    case DKIM_SIGERROR_MISSING_H:
    case DKIM_SIGERROR_EMPTY_H:
    case DKIM_SIGERROR_INVALID_H:
    case DKIM_SIGERROR_INVALID_L:
    case DKIM_SIGERROR_MISSING_D:
    case DKIM_SIGERROR_EMPTY_D:
    case DKIM_SIGERROR_MISSING_S:
    case DKIM_SIGERROR_EMPTY_S:
    case DKIM_SIGERROR_MISSING_B:
    case DKIM_SIGERROR_EMPTY_B:
    case DKIM_SIGERROR_CORRUPT_B:
    case DKIM_SIGERROR_MISSING_BH:
    case DKIM_SIGERROR_EMPTY_BH:
    case DKIM_SIGERROR_CORRUPT_BH:
      return true;
    default:
      return false;
  }
}

bool isRsa(int alg) {
  return alg == DKIM_SIGN_RSASHA1 || alg == DKIM_SIGN_RSASHA256;
}

}  // namespace

SignatureResult classifySignature(const SignatureFacts& f) {
  // libopendkim does not look at q= once our lookup callback is installed (RFC 6376 3.5: no
  // usable query method means the key cannot be retrieved), and it may have reused another
  // signature's key for this one, so q= is judged here, after the signature's own syntax
  // (RFC 6376 6.1.1 checks v= and the tags before anything about the key).
  if (!f.queryMethodUsable && !isSignatureSyntaxError(f.error))
    return {"permerror", "no supported query method in q="};
  if (f.internalError) return {"temperror", "internal error in the DKIM library"};
  bool lookupFailed = f.lookup && f.lookup->kind != KeyLookupOutcome::Kind::Ok;

  switch (f.error) {
    case DKIM_SIGERROR_OK:
      break;
    case DKIM_SIGERROR_UNKNOWN:
    case DKIM_SIGERROR_KEYFAIL:
    case DKIM_SIGERROR_NOKEY:
      if (lookupFailed) return fromLookup(*f.lookup);
      if (f.error == DKIM_SIGERROR_NOKEY) return {"permerror", "key not found"};
      if (f.error == DKIM_SIGERROR_KEYFAIL) return {"temperror", "key lookup failed"};
      // Never processed: libopendkim gave up on the message before reaching this one.
      return {"permerror", "not verified" + (f.errorText.empty() ? "" : ": " + f.errorText)};
    case DKIM_SIGERROR_BADSIG:
      if (f.bodyHash == DKIM_SIGBH_MISMATCH) return {"fail", "body hash mismatch"};
      return {"fail", "signature verification failed"};
    case DKIM_SIGERROR_KEYTOOSMALL:
      // RFC 8301 3.2. "policy" (RFC 8601 2.7.1: signed, but not acceptable to us), not "fail":
      // nothing says the signature is forged, we refuse the key size.
      return {"policy", smallKey(f.keyBits)};
    case DKIM_SIGERROR_EXPIRED:
      return {"permerror", "signature expired"};
    case DKIM_SIGERROR_FUTURE:
      return {"permerror", "signature timestamp in the future"};
    case DKIM_SIGERROR_KEYREVOKED:
      return {"permerror", "key revoked"};
    case DKIM_SIGERROR_VERSION:
      return {"permerror", "unsupported signature version (v= must be 1)"};
    case DKIM_SIGERROR_MISSING_V:
      return {"permerror", "signature version missing (v= is required)"};
    default:
      // Signature or key syntax and semantics (RFC 6376 6.1.1, 6.1.2: PERMFAIL).
      if (lookupFailed) return fromLookup(*f.lookup);
      return {"permerror",
              f.errorText.empty() ? "signature error " + std::to_string(f.error) : f.errorText};
  }

  if (f.bodyHash == DKIM_SIGBH_MISMATCH) return {"fail", "body hash mismatch"};
  if ((f.flags & DKIM_SIGFLAG_PROCESSED) == 0) return {"neutral", "not verified"};
  if ((f.flags & DKIM_SIGFLAG_PASSED) == 0) return {"fail", "signature verification failed"};
  if (f.bodyHash != DKIM_SIGBH_MATCH) return {"neutral", "body hash not checked"};
  // Cryptographically valid. RFC 8301 3.1: rsa-sha1 "MUST NOT be used for signing or verifying",
  // and libopendkim 2.11 still verifies it, so we refuse it here. "policy" rather than "fail":
  // the signature is genuine, what is not acceptable is its algorithm (RFC 8601 2.7.1).
  if (f.algorithm == DKIM_SIGN_RSASHA1) return {"policy", "rsa-sha1 is not accepted (RFC 8301)"};
  if (isRsa(f.algorithm) && f.keyBits != 0 && f.keyBits < kMinRsaBits)
    return {"policy", smallKey(f.keyBits)};
  if (f.flags & DKIM_SIGFLAG_TESTKEY) return {"pass", "key in testing mode (t=y)"};
  return {"pass", ""};
}

}  // namespace mxguard::stages
