// dkim_bad_signature.cpp - all signatures "fail" (dkim_result.cpp: a body hash mismatch or a
// signature that does not verify with the key it names), as OpenDKIM's DKIM_STAT_BADSIG and
// DKIM_STAT_CANTVRFY, which its On-BadSignature handles.
// Must not: look anything up; the outcomes are final when this runs.
#include "stages/dkim/dkim_bad_signature.h"

#include <algorithm>

#include "base/strings.h"
#include "stages/dkim/dkim_alignment.h"

namespace mxguard::stages {
namespace {

// A reply line stays short: the trace detail has every signature anyway.
constexpr size_t kNamedInReply = 3;

std::string describe(const SignatureOutcome& o) {
  std::string out = "d=" + (o.d.empty() ? "(none)" : o.d) + " s=" + (o.s.empty() ? "(none)" : o.s);
  return o.reason.empty() ? out : out + ": " + o.reason;
}

}  // namespace

std::optional<BrokenSignatures> brokenSignatures(const std::vector<SignatureOutcome>& outcomes,
                                                 size_t skipped,
                                                 const std::vector<std::string>& domains) {
  if (outcomes.empty() || skipped > 0) return std::nullopt;
  bool allFailed = std::all_of(outcomes.begin(), outcomes.end(),
                               [](const SignatureOutcome& o) { return o.result == "fail"; });
  if (!allFailed) return std::nullopt;
  const SignatureOutcome* concerned = nullptr;
  for (const auto& o : outcomes) {
    std::string d = canonicalHostName(o.d);
    if (domains.empty() || (!d.empty() && coveringDomain(d, domains))) {
      concerned = &o;
      break;
    }
  }
  if (!concerned) return std::nullopt;
  BrokenSignatures b;
  b.domain = canonicalHostName(concerned->d);
  for (size_t i = 0; i < outcomes.size() && i < kNamedInReply; ++i)
    b.problem += (i ? ", " : "") + describe(outcomes[i]);
  if (outcomes.size() > kNamedInReply)
    b.problem += " and " + std::to_string(outcomes.size() - kNamedInReply) + " more";
  return b;
}

}  // namespace mxguard::stages
