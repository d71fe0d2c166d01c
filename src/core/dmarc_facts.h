// dmarc_facts.h - what the dmarc stage found for one message, in the words of an RFC 7489
// aggregate report (appendix C): the published policy, what was applied and why, and the
// authentication results it was judged on. Kept in the message and in its transaction record.
// Must not: evaluate anything; the dmarc stage fills it, the record and the report read it.
#pragma once

#include <string>
#include <vector>

namespace mxguard {

struct DmarcFacts {
  std::string headerFrom;    // RFC5322.From domain, lowercase
  std::string envelopeFrom;  // RFC5321.MailFrom domain; empty for the null sender
  // pass | fail | none | temperror | permerror (RFC 7489 11.2). Only pass and fail had a policy;
  // the others leave the policy fields below empty.
  std::string result;
  std::string policyDomain;  // where the record was found: the From or the organisational domain

  // policy_published (appendix C PolicyPublishedType); adkim/aspf "r" | "s", p/sp "none" |
  // "quarantine" | "reject" (sp empty when the record has none), fo as published ("0" default).
  std::string adkim = "r", aspf = "r", p, sp, fo = "0";
  int pct = 100;

  // policy_evaluated: what was applied (none | quarantine | reject) and the two aligned
  // results (pass | fail).
  std::string disposition = "none";
  std::string dkimAligned = "fail", spfAligned = "fail";
  // Why the disposition differs from the policy (PolicyOverrideType: forwarded, sampled_out,
  // trusted_forwarder, mailing_list, local_policy, other) with a comment.
  struct Override {
    std::string type, comment;
  };
  std::vector<Override> overrides;

  // auth_results: every DKIM signature (domain, selector, result) and the SPF result
  // (domain, scope "mfrom" | "helo", result), as the dkim and spf stages recorded them.
  struct DkimAuth {
    std::string domain, selector, result;
  };
  struct SpfAuth {
    std::string domain, scope, result;
  };
  std::vector<DkimAuth> dkim;
  std::vector<SpfAuth> spf;
};

}  // namespace mxguard
