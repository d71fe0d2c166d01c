// dmarc_evaluation.h - RFC 7489 6.6.2 and 6.6.4 for one From domain whose policy was found: the
// spf and dkim results the stages recorded (no second evaluation), their alignment under
// adkim/aspf, pass or fail, the policy the domain asks for (p, or sp below the organisational
// domain), and pct sampling from a number the caller derives from the message.
// Must not: look anything up or decide on exemptions (the stage does both).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/auth_results.h"
#include "core/dmarc_facts.h"
#include "stages/dmarc/dmarc_record.h"
#include "stages/organizational_domain.h"

namespace mxguard::stages {

struct DmarcPolicyFound {
  std::shared_ptr<const DmarcRecordParse> parsed;  // parsed->record is set
  const DmarcRecord& record() const { return *parsed->record; }
  std::string domain;           // where it was found
  bool organizational = false;  // found at the organisational domain, not the From domain
};

struct DmarcJudgement {
  DmarcFacts facts;       // result, policy_published, alignment, auth_results; disposition none
  std::string requested;  // the policy for this message: none | quarantine | reject
  // A fail: "SPF pass for bounce.example.net (not aligned with example.org); DKIM: no
  // signature"; a pass: what aligned, "aligned DKIM pass for d=example.org".
  std::string evidence;
};

// `sender` is the envelope sender (empty: the null sender, whose SPF identity is the HELO name).
DmarcJudgement judgeDmarc(const std::string& fromDomain, const DmarcPolicyFound& policy,
                          const std::vector<AuthResult>& results, const std::string& sender,
                          const PublicSuffixList& psl);

// The auth_results part of the facts alone (for a message without a usable policy).
void collectAuthResults(DmarcFacts& facts, const std::vector<AuthResult>& results,
                        const std::string& sender);

// 6.6.4: a failing message not selected by pct gets the next policy down (reject ->
// quarantine -> none). `sample` in [0, 100): the message is selected when sample < pct.
// Adds the sampled_out override to `facts` when it applies; returns the policy to apply.
std::string applyPercentage(const std::string& requested, int pct, int sample, DmarcFacts& facts);

// A number in [0, 100) from a message's identity (Message-ID, else queue id) keyed with a secret
// seed: the same message retried is sampled the same way, a sender cannot pick a Message-ID that
// always falls outside pct (the seed is not theirs to know), and a test sets the seed to name
// which side a message falls on.
int percentageSample(std::string_view seed, std::string_view messageIdentity);

}  // namespace mxguard::stages
