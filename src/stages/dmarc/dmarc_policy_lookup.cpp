// dmarc_policy_lookup.cpp - a temporary failure at the From domain is a temperror (never a
// fallback: the record may exist); several records end discovery (6.6.3 step 5); a broken one
// is a permerror unless dmarc_record repaired it.
// Must not: look up more than the two names dmarcPolicyQueries gives.
#include "stages/dmarc/dmarc_policy_lookup.h"

namespace mxguard::stages {
namespace {

using Status = DmarcDiscovery::Status;

// One name's answer: Found/TempError/PermError are final, None means "try the next name".
DmarcDiscovery fromAnswer(const dns::Query& q, const dns::LookupResult& r, bool organizational) {
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
  auto parsed = parseDmarcRecord(records.front());
  if (!parsed.record) {
    d.status = Status::PermError;
    d.problem = "invalid DMARC record at " + q.name + ": " + parsed.problem;
    return d;
  }
  d.status = Status::Found;
  d.policy.record = std::move(*parsed.record);
  d.policy.domain = q.name.substr(std::string("_dmarc.").size());
  d.policy.organizational = organizational;
  return d;
}

}  // namespace

std::vector<dns::Query> dmarcPolicyQueries(const std::string& fromDomain,
                                           const PublicSuffixList& psl) {
  std::vector<dns::Query> qs{{"_dmarc." + fromDomain, dns::RrType::TXT}};
  std::string org = psl.organizationalDomain(fromDomain);
  if (org != fromDomain) qs.push_back({"_dmarc." + org, dns::RrType::TXT});
  return qs;
}

DmarcDiscovery discoverDmarcPolicy(Connection& tx, dns::Resolver& resolver,
                                   std::chrono::milliseconds timeout, const std::string& fromDomain,
                                   const PublicSuffixList& psl) {
  auto queries = dmarcPolicyQueries(fromDomain, psl);
  auto answers = cachedLookupAll(tx, resolver, queries, timeout);
  DmarcDiscovery d = fromAnswer(queries[0], answers[0], false);
  if (d.status != Status::None || queries.size() == 1) {
    if (d.status == Status::None) d.problem = "no DMARC record at " + queries[0].name;
    return d;
  }
  d = fromAnswer(queries[1], answers[1], true);
  if (d.status == Status::None)
    d.problem = "no DMARC record at " + queries[0].name + " or " + queries[1].name;
  return d;
}

}  // namespace mxguard::stages
