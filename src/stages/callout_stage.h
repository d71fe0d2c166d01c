// callout_stage.h - sender verification: asks the sender domain's own mail server whether the
// MAIL FROM address exists (Postfix reject_unverified_sender, Exim callouts), caching results in
// the Store so one probe serves a whole fleet, and quoting the remote's own reply when it says no.
// Must not: probe for the null sender, our own or allow-listed domains, non-public addresses
// (unless allowed), more than the caps allow, or reply 5xx when it could not get an answer.
#pragma once

#include <memory>
#include <set>
#include <vector>

#include "config/config_file.h"
#include "core/reply_template.h"
#include "core/stage.h"
#include "smtp/smtp_probe.h"
#include "stages/callout_record.h"
#include "stages/probe_coordinator.h"
#include "stages/registry.h"
#include "store/store.h"

namespace mxguard::stages {

class CalloutStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "callout"; }
  std::optional<Decision> onMail(Transaction& tx) const override;

  // What one probe (or a cache hit) found; shared between concurrent checks of an address.
  struct Finding {
    enum class Kind { Answer, AcceptAll, NullMx, DomainNotFound, Unverified } kind;
    AddressRecord record;  // Answer: the remote's answer
    std::string why;       // Unverified: the reason
    std::string dialogue;  // the probe transcript, for the trace
    bool cached = false;
  };

 private:
  Finding probeFresh(Transaction& tx, const std::string& sender, const std::string& domain) const;
  Finding probeHosts(Transaction& tx, const std::vector<std::string>& hosts,
                     const std::string& sender, const std::string& domain) const;
  std::optional<Decision> decide(const Transaction& tx, const std::string& sender,
                                 const std::string& domain, const Finding& f) const;
  void remember(const std::string& sender, const std::string& domain, const Finding& f) const;
  bool allowedTarget(const IpAddress& ip) const;

  dns::ResolverSharedPtr resolver_;
  store::StoreSharedPtr store_;
  smtp::SmtpProbeSharedPtr probe_;
  std::chrono::milliseconds dnsTimeout_{5000};
  smtp::ProbeOptions probeOptions_;
  bool acceptAllProbe_ = true;
  bool allowPrivate_ = false;
  size_t maxHosts_ = 3;
  double probesPerDomainPerMinute_ = 60;
  std::set<std::string> skipDomains_;
  std::string onNullSenderRefused_ = "accept";
  std::chrono::seconds acceptTtl_{86400}, rejectTtl_{7200}, domainTtl_{604800}, tempfailTtl_{300};
  ReplyTemplate rejected_, unverified_, nullMx_, domainNotFound_, nullSenderRefused_;
  std::shared_ptr<ProbeCoordinator<Finding>> coordinator_;
};

}  // namespace mxguard::stages
