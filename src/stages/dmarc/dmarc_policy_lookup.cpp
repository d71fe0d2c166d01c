// dmarc_policy_lookup.cpp - a temporary failure at the From domain is a temperror (never a
// fallback: the record may exist); several records end discovery (6.6.3 step 5); a broken one
// is a permerror unless dmarc_record repaired it.
// Must not: look up more than two names (the From and the organisational domain).
#include "stages/dmarc/dmarc_policy_lookup.h"

namespace mxguard::stages {
namespace {

using Status = DmarcDiscovery::Status;

// One name's answer: Found/TempError/PermError are final, None means "try the next name".
DmarcDiscovery fromAnswer(const dns::Query& q, const dns::LookupResult& r, bool organizational,
                          const DmarcRecordCache& cache) {
  DmarcDiscovery d;
  if (r.status == dns::LookupStatus::TempFail) {
    d.status = Status::TempError;
    d.problem = "TXT " + q.name + ": " + (r.error.empty() ? "temporary failure" : r.error);
    return d;
  }
  if (r.status != dns::LookupStatus::Ok) return d;  // NXDOMAIN, NODATA, REFUSED: no record
  auto records = dmarcRecordsOf(r.records);
  if (records.empty()) return d;
  if (records.size() > 1) {
    d.status = Status::PermError;
    d.problem = std::to_string(records.size()) + " DMARC records at " + q.name;
    return d;
  }
  auto parsed = cache.parse(records.front());
  if (!parsed->record) {
    d.status = Status::PermError;
    d.problem = "invalid DMARC record at " + q.name + ": " + parsed->problem;
    return d;
  }
  d.status = Status::Found;
  d.policy.parsed = std::move(parsed);
  d.policy.domain = q.name.substr(std::string("_dmarc.").size());
  d.policy.organizational = organizational;
  return d;
}

}  // namespace

dns::Query dmarcPolicyQuery(const std::string& fromDomain) {
  return {"_dmarc." + fromDomain, dns::RrType::TXT};
}

DmarcDiscovery discoverDmarcPolicy(Connection& tx, dns::Resolver& resolver,
                                   std::chrono::milliseconds timeout, const std::string& fromDomain,
                                   const PublicSuffixList& psl, const DmarcRecordCache& records) {
  dns::Query first = dmarcPolicyQuery(fromDomain);
  DmarcDiscovery d = fromAnswer(first, cachedLookup(tx, resolver, first, timeout), false, records);
  if (d.status != Status::None) return d;
  std::string org = psl.organizationalDomain(fromDomain);
  if (org == fromDomain) {
    d.problem = "no DMARC record at " + first.name;
    return d;
  }
  dns::Query second = dmarcPolicyQuery(org);
  d = fromAnswer(second, cachedLookup(tx, resolver, second, timeout), true, records);
  if (d.status == Status::None)
    d.problem = "no DMARC record at " + first.name + " or " + second.name;
  return d;
}

}  // namespace mxguard::stages
