// dkim_bad_signature.h - OpenDKIM's On-BadSignature as a check: whether every signature of a
// message failed verification, and what the reply names.
// Must not: count a temperror (a key lookup that may work later), a permerror (a malformed
// signature, a missing or revoked key: OpenDKIM's On-KeyNotFound is a separate knob), policy or
// neutral as broken; only a verified "fail" shows a message changed in transit or forged.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "stages/dkim/dkim_result.h"

namespace mxguard::stages {

struct BrokenSignatures {
  std::string domain;   // d= of the first failed signature the configured domains concern
  std::string problem;  // "d=example.com s=sel: body hash mismatch", several joined by ", "
};

// nullopt unless the message has a verified signature, every one of them failed, none was left
// unverified (`skipped`, past max_signatures: it might have passed), and, when `domains` is not
// empty, one of them has a d= equal to or under one of `domains` (canonical, lowercase).
std::optional<BrokenSignatures> brokenSignatures(const std::vector<SignatureOutcome>& outcomes,
                                                 size_t skipped,
                                                 const std::vector<std::string>& domains);

}  // namespace mxguard::stages
