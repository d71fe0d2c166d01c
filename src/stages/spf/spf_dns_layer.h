// spf_dns_layer.h - libspf2's DNS layer (SPF_dns_server_t) on our Resolver: one lookup per
// libspf2 query, within the evaluation's deadline, with RFC 7208 applied where libspf2 does not
// (void-lookup limit 4.6.4, PTR cap 4.6.4, 253-octet truncation 7.3, label checks, the record
// selection and syntax of 4.5/12 via the get_spf hook, exp= text quirks).
// Must not: keep state between evaluations except through SpfLookupContext.
#pragma once

#include <chrono>
#include <set>
#include <string>

#include "core/ip_address.h"
#include "core/resolver.h"
#include "stages/spf/libspf2.h"

namespace mxguard::stages {

// What one check_host() evaluation has asked so far: set by SpfEvaluator around the libspf2
// call (thread-local: libspf2's hooks receive no caller context).
struct SpfLookupContext {
  dns::Resolver* resolver = nullptr;
  std::chrono::steady_clock::time_point deadline;
  IpAddress client;
  int voidLookups = 0;               // NXDOMAIN/NODATA answers to A, AAAA, MX, PTR (4.6.4)
  std::set<std::string> ptrTargets;  // names from PTR answers: their A lookups validate (5.5)
  std::set<std::string> mxTargets;   // names from MX answers: part of their mx term
  int termLookups = 0;               // DNS-querying terms evaluated, across includes (4.6.4)
  int recordsFetched = 0;
  std::string topDomain, topRecord;  // the first record fetched (the identity's own)
  std::string recordError;           // why a fetched record was a permerror
  std::string dnsError;              // the first temporary DNS failure
};

class SpfLookupScope {  // RAII: makes `ctx` the current thread's context
 public:
  explicit SpfLookupScope(SpfLookupContext& ctx);
  ~SpfLookupScope();
  SpfLookupScope(const SpfLookupScope&) = delete;
  SpfLookupScope& operator=(const SpfLookupScope&) = delete;

 private:
  SpfLookupContext* previous_;
};

// More than two void lookups, or more than 10 terms that query DNS (counted over the whole
// evaluation, includes too: libspf2 restarts its count in each include): a permerror (4.6.4).
std::string limitExceeded(const SpfLookupContext& ctx);

// A new layer (free with freeSpfDnsLayer after the SPF_server_t that uses it).
SPF_dns_server_t* newSpfDnsLayer();
void freeSpfDnsLayer(SPF_dns_server_t* layer);

}  // namespace mxguard::stages
