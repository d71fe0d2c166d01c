// dmarc_evaluation.cpp - alignment by the public suffix list (relaxed) or equality (strict);
// the SPF identity is MAIL FROM's domain, or the HELO name for the null sender (RFC 7489 4.1).
// Must not: treat a non-pass result as aligned, or read results other stages did not record.
#include "stages/dmarc/dmarc_evaluation.h"

#include "base/strings.h"

namespace mxguard::stages {
namespace {

std::string propertyOf(const AuthResult& r, std::string_view name) {
  for (const auto& [k, v] : r.properties)
    if (k == name) return v;
  return "";
}

std::string domainOfAddress(const std::string& address) {
  auto at = address.rfind('@');
  return canonicalHostName(at == std::string::npos ? address : address.substr(at + 1));
}

bool aligned(const std::string& domain, const std::string& fromDomain, char mode,
             const PublicSuffixList& psl) {
  if (domain.empty()) return false;
  return mode == 's' ? domain == fromDomain : psl.sameOrganization(domain, fromDomain);
}

// The SPF result DMARC counts: MAIL FROM's, or HELO's for the null sender.
const DmarcFacts::SpfAuth* countedSpf(const DmarcFacts& f, bool nullSender) {
  for (const auto& s : f.spf)
    if (s.scope == (nullSender ? "helo" : "mfrom")) return &s;
  return nullptr;
}

std::string spfEvidence(const DmarcFacts::SpfAuth* spf, bool isAligned,
                        const std::string& fromDomain) {
  if (!spf) return "SPF not checked";
  std::string e = "SPF " + spf->result + " for " + spf->domain;
  if (spf->result == "pass" && !isAligned) e += " (not aligned with " + fromDomain + ")";
  return e;
}

// `dkimAligned[i]`: whether f.dkim[i] is aligned (computed once by the caller).
std::string dkimEvidence(const DmarcFacts& f, const std::vector<AuthResult>& results,
                         const std::vector<bool>& dkimAligned) {
  if (f.dkim.empty()) return "DKIM: no signature";
  std::string e;
  size_t i = 0;  // index into f.dkim: the dkim results with a d=, in the same order
  for (const auto& r : results) {
    // The same test as collectAuthResults, so r is f.dkim[i].
    if (r.method != "dkim" || canonicalHostName(propertyOf(r, "header.d")).empty()) continue;
    if (i >= f.dkim.size()) break;
    if (i == 3) {
      e += ", and more";
      break;
    }
    const auto& d = f.dkim[i];
    e += (e.empty() ? "DKIM " : ", DKIM ") + d.result + " for d=" + d.domain;
    if (d.result == "pass" && !dkimAligned[i])
      e += " (not aligned with " + f.headerFrom + ")";
    else if (d.result != "pass" && !r.reason.empty())
      e += " (" + r.reason + ")";
    ++i;
  }
  return e;
}

}  // namespace

void collectAuthResults(DmarcFacts& facts, const std::vector<AuthResult>& results,
                        const std::string& sender) {
  facts.envelopeFrom = sender.empty() ? "" : domainOfAddress(sender);
  for (const auto& r : results) {
    if (r.method == "dkim") {
      std::string d = canonicalHostName(propertyOf(r, "header.d"));
      if (!d.empty()) facts.dkim.push_back({d, propertyOf(r, "header.s"), r.result});
    } else if (r.method == "spf") {
      std::string mfrom = propertyOf(r, "smtp.mailfrom");
      if (!mfrom.empty())
        facts.spf.push_back({domainOfAddress(mfrom), "mfrom", r.result});
      else if (std::string helo = propertyOf(r, "smtp.helo"); !helo.empty())
        facts.spf.push_back({canonicalHostName(helo), "helo", r.result});
    }
  }
}

DmarcJudgement judgeDmarc(const std::string& fromDomain, const DmarcPolicyFound& policy,
                          const std::vector<AuthResult>& results, const std::string& sender,
                          const PublicSuffixList& psl) {
  DmarcJudgement j;
  DmarcFacts& f = j.facts;
  const DmarcRecord& rec = policy.record();
  f.headerFrom = fromDomain;
  f.policyDomain = policy.domain;
  f.adkim = std::string(1, rec.adkim);
  f.aspf = std::string(1, rec.aspf);
  f.p = rec.p;
  f.sp = rec.sp;
  f.pct = rec.pct;
  f.fo = rec.fo;
  collectAuthResults(f, results, sender);

  bool dkimOk = false;
  std::vector<bool> dkimAligned;
  for (const auto& d : f.dkim) {
    // Only a passing signature's alignment matters (and costs a public suffix lookup).
    dkimAligned.push_back(d.result == "pass" && aligned(d.domain, fromDomain, rec.adkim, psl));
    dkimOk = dkimOk || dkimAligned.back();
  }
  const DmarcFacts::SpfAuth* spf = countedSpf(f, sender.empty());
  bool spfAligned = spf && spf->result == "pass" && aligned(spf->domain, fromDomain, rec.aspf, psl);
  bool spfOk = spf && spf->result == "pass" && spfAligned;
  f.dkimAligned = dkimOk ? "pass" : "fail";
  f.spfAligned = spfOk ? "pass" : "fail";
  f.result = dkimOk || spfOk ? "pass" : "fail";
  // 6.6.3: below the organisational domain the record's sp= applies, p= when it has none.
  j.requested = policy.organizational && !rec.sp.empty() ? rec.sp : rec.p;
  if (f.result == "fail") {
    j.evidence =
        spfEvidence(spf, spfAligned, fromDomain) + "; " + dkimEvidence(f, results, dkimAligned);
  } else {  // a pass names what aligned (the trace), no more: most mail passes
    for (size_t i = 0; i < f.dkim.size() && j.evidence.empty(); ++i)
      if (dkimAligned[i]) j.evidence = "aligned DKIM pass for d=" + f.dkim[i].domain;
    if (j.evidence.empty()) j.evidence = "aligned SPF pass for " + spf->domain;
  }
  return j;
}

std::string applyPercentage(const std::string& requested, int pct, int sample, DmarcFacts& facts) {
  if (requested == "none" || sample < pct) return requested;
  std::string lowered = requested == "reject" ? "quarantine" : "none";
  facts.overrides.push_back(
      {"sampled_out", "pct=" + std::to_string(pct) + ": " + requested + " applied as " + lowered});
  return lowered;
}

int percentageSample(std::string_view seed, std::string_view identity) {
  uint32_t h = 2166136261u;  // FNV-1a: stable across builds and hosts, unlike std::hash
  for (unsigned char c : seed) h = (h ^ c) * 16777619u;
  h = (h ^ 0) * 16777619u;  // a separator: seed "ab" + "c" differs from "a" + "bc"
  for (unsigned char c : identity) h = (h ^ c) * 16777619u;
  return static_cast<int>(h % 100);
}

}  // namespace mxguard::stages
