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
#include "stages/dmarc/organizational_domain.h"

namespace mxguard::stages {

struct DmarcDiscovery {
  enum class Status { Found, None, TempError, PermError };
  Status status = Status::None;
  DmarcPolicyFound policy;  // when Found
  std::string problem;      // otherwise: what was asked and what came back
};

// The queries discovery may need, asked together so the fallback costs no extra round trip.
std::vector<dns::Query> dmarcPolicyQueries(const std::string& fromDomain,
                                           const PublicSuffixList& psl);

DmarcDiscovery discoverDmarcPolicy(Connection& tx, dns::Resolver& resolver,
                                   std::chrono::milliseconds timeout, const std::string& fromDomain,
                                   const PublicSuffixList& psl);

}  // namespace mxguard::stages
