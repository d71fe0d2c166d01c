// spf_evaluator.h - RFC 7208 check_host() for one identity (MAIL FROM or HELO): libspf2 does the
// evaluation, our DNS layer (spf_dns_layer) answers its queries through the shared Resolver
// under one deadline, and the results libspf2 gets wrong are corrected here.
// Must not: decide what a result means for the message (SpfStage does) or block past the
// deadline it was given.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/ip_address.h"
#include "core/resolver.h"

namespace mxguard::stages {

enum class SpfResult { None, Neutral, Pass, Fail, Softfail, Temperror, Permerror };
const char* toString(SpfResult r);  // RFC 7208 section 2.6 names: "pass", "softfail", ...

struct SpfEvaluation {
  SpfResult result = SpfResult::None;
  std::string identity;     // "mailfrom" or "helo"
  std::string checked;      // the address checked: sender, or postmaster@<helo>
  std::string domain;       // its domain
  std::string record;       // the domain's SPF record as published (evidence), if any
  std::string explanation;  // the domain's exp= text for a fail; empty when it published none
  std::string problem;      // permerror/temperror cause, or why the result is none
};

class SpfEvaluator {
 public:
  // `receiver` is the %{r} macro (our host name). `defaultExplanation` is what a fail explains
  // when the domain has no exp= (RFC 7208 6.2); SpfEvaluation::explanation stays empty then.
  SpfEvaluator(dns::ResolverSharedPtr resolver, const std::string& receiver,
               const std::string& defaultExplanation = "");
  ~SpfEvaluator();
  SpfEvaluator(const SpfEvaluator&) = delete;
  SpfEvaluator& operator=(const SpfEvaluator&) = delete;

  // MAIL FROM identity; an empty sender checks postmaster@<helo> (RFC 7208 2.4).
  SpfEvaluation checkMailFrom(const IpAddress& client, const std::string& helo,
                              const std::string& sender, std::chrono::milliseconds timeout) const;
  // HELO identity (RFC 7208 2.3): postmaster@<helo>; none when the HELO is not a domain name.
  SpfEvaluation checkHelo(const IpAddress& client, const std::string& helo,
                          std::chrono::milliseconds timeout) const;

 private:
  SpfEvaluation evaluate(const IpAddress& client, const std::string& helo,
                         const std::string& address, std::string identity,
                         std::chrono::milliseconds timeout) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxguard::stages
