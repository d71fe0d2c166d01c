// callout_stage.h - sender verification: asks the sender domain's own mail server whether the
// MAIL FROM address exists (Postfix reject_unverified_sender, Exim callouts), caching results in
// the Store so one probe serves a whole fleet, and quoting the remote's own reply when it says no.
// Must not: probe for the null sender, our own or allow-listed domains, non-public addresses
// (unless allowed), a sender with control bytes or over RFC 5321's sizes (nor key the store with
// it), more than the caps allow, or reply 5xx when it could not get an answer.
#pragma once

#include <memory>
#include <set>
#include <vector>

#include "config/config_file.h"
#include "core/reply_template.h"
#include "core/stage.h"
#include "smtp/smtp_probe.h"
#include "stages/callout/callout_record.h"
#include "stages/callout/probe_coordinator.h"
#include "stages/check_action.h"
#include "stages/organizational_domain.h"
#include "stages/registry.h"
#include "store/store.h"

namespace mxguard::stages {

// What one probe (or a cache hit) found; shared between concurrent checks of an address. At
// namespace scope so StageContext can name the coordinator without including this header.
struct CalloutFinding {
  enum class Kind { Answer, AcceptAll, NullMx, DomainNotFound, Unverified } kind;
  AddressRecord record;  // Answer: the remote's answer
  std::string why;       // Unverified: the reason
  std::string dialogue;  // the probe transcript, for the trace
  bool cached = false;
};

// The callout probes in progress and their single-flight, shared by every callout stage built in
// the process, across reloads (StageContext::calloutProbes).
using CalloutProbes = ProbeCoordinator<CalloutFinding>;

class CalloutStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "callout"; }
  Findings onMail(Connection& tx) const override;

  using Finding = CalloutFinding;

  // The process-wide coordinator, used when StageContext::calloutProbes is null: a reload builds
  // new stages, and they must count the probes the old policy's stages still have in flight.
  static std::shared_ptr<CalloutProbes> processProbes();

 private:
  // The steps of onMail: the cached answer, if any; the per-domain probe rate; the probe.
  std::optional<Findings> fromCache(Connection& tx, const std::string& sender,
                                    const std::string& domain) const;
  std::optional<Decision> probeRateLimited(const std::string& sender,
                                           const std::string& domain) const;
  Findings probeAndDecide(Connection& tx, const std::string& sender,
                          const std::string& domain) const;
  // The sender could not be verified now: reply_unverified, as a dependency failure.
  Decision unverifiedBecause(const std::string& sender, const std::string& why, std::string reason,
                             std::string detail) const;
  Finding probeFresh(Connection& tx, const std::string& sender, const std::string& domain) const;
  Finding probeHosts(Connection& tx, const std::vector<std::string>& hosts,
                     const std::string& sender, const std::string& domain) const;
  std::vector<IpAddress> hostAddresses(Connection& tx, const std::string& host) const;
  smtp::ProbeResult timedProbe(const std::string& host, const IpAddress& ip,
                               const std::string& sender, const smtp::ProbeOptions& options) const;
  static void settle(Finding& f, const smtp::ProbeResult& r, const std::string& host,
                     const IpAddress& ip);
  Decision internalError(const std::string& sender, std::string detail) const;
  std::optional<Decision> decide(const Connection& tx, const std::string& sender,
                                 const std::string& domain, const Finding& f) const;
  void remember(const std::string& sender, const std::string& domain, const Finding& f) const;
  bool allowedTarget(const IpAddress& ip) const;
  // The domain whose probe budget a sender domain spends: its registered domain, so that a
  // wildcard's endless subdomains (a1.victim.example, a2.victim.example, ...) share one budget.
  std::string budgetDomain(const std::string& domain) const;
  // The sender cannot be probed (control bytes, RFC 5321 sizes): the malformed check's finding.
  Findings malformed(const std::string& sender, const std::string& why) const;

  dns::ResolverSharedPtr resolver_;
  store::StoreSharedPtr store_;
  smtp::SmtpProbeSharedPtr probe_;
  std::chrono::milliseconds dnsTimeout_{5000};
  smtp::ProbeOptions probeOptions_;
  bool acceptAllProbe_ = true;
  bool allowPrivate_ = false;
  size_t maxHosts_ = 3;
  size_t maxAddressesPerHost_ = 2;  // connection attempts per MX host, per probe
  size_t maxAttempts_ = 5;          // connection attempts in all, per probe
  Check malformed_;
  double probesPerDomainPerMinute_ = 60;
  std::set<std::string> skipDomains_;
  std::shared_ptr<const PublicSuffixList> publicSuffixes_;  // null: each domain its own budget
  std::string onNullSenderRefused_ = "accept";
  std::chrono::seconds acceptTtl_{86400}, rejectTtl_{7200}, domainTtl_{604800}, tempfailTtl_{300};
  ReplyTemplate rejected_, unverified_, nullMx_, domainNotFound_, nullSenderRefused_;
  CalloutProbes::Limits probeLimits_;  // this policy's caps, applied to the probes it starts
  std::shared_ptr<CalloutProbes> coordinator_;
};

}  // namespace mxguard::stages
