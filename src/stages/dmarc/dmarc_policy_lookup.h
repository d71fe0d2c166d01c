// dmarc_policy_lookup.h - DMARC policy discovery (RFC 7489 6.6.3) through mxguard's resolver:
// _dmarc.<From domain>, and when it has no DMARC record, _dmarc.<organisational domain>.
// Must not: use libopendmarc's resolver (it would bypass our deadlines, cache and test DNS).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/resolver.h"
#include "core/stage.h"
#include "stages/dmarc/dmarc_evaluation.h"
#include "stages/organizational_domain.h"

namespace mxguard::stages {

struct DmarcDiscovery {
  enum class Status { Found, None, TempError, PermError };
  Status status = Status::None;
  DmarcPolicyFound policy;  // when Found
  std::string problem;      // otherwise: what was asked and what came back
};

// The first query discovery makes (prefetched with the phase's others); the organisational
// domain's follows only when it finds nothing: DMARC records are cached for hours, and most From
// domains are organisational domains themselves.
dns::Query dmarcPolicyQuery(const std::string& fromDomain);

DmarcDiscovery discoverDmarcPolicy(Connection& tx, dns::Resolver& resolver,
                                   std::chrono::milliseconds timeout, const std::string& fromDomain,
                                   const PublicSuffixList& psl, const DmarcRecordCache& records);

}  // namespace mxguard::stages
