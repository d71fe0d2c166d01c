// greylist_stage.h - greylisting at RCPT (postgrey, milter-greylist): the first attempt of a
// (client network, sender, recipient) triplet gets a 451, a retry after `delay` and within
// `retry_window` passes, and a network that passed often enough is let through for a while.
// State in the Store (in memory on one host, Redis for a fleet, so a retry to another MX passes),
// one store call per recipient; exemptions named in the trace.
// Must not: defer anything but the one recipient (the others keep their verdicts), or turn a
// store outage into more than on_failure (greylisting is a delay, not a verdict).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/config_file.h"
#include "core/stage.h"
#include "stages/check_action.h"
#include "stages/client_list.h"
#include "stages/greylist/greylist_triplet.h"
#include "stages/registry.h"

namespace mxguard::stages {

class GreylistStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "greylist"; }
  Findings onRcpt(Connection& tx, const std::string& recipient) const override;

 private:
  // Why this recipient skips greylisting ("authenticated as alice"), or nullopt.
  std::optional<std::string> exemption(const Connection& tx, const std::string& recipient) const;
  // The client's network: a pool_networks entry it is in, else its address masked to the prefix.
  std::string networkOf(const IpAddress& ip, bool* pool) const;
  Findings greylisted(const Connection& tx, const std::string& recipient,
                      const GreylistTriplet& triplet, const store::GreylistResult& r) const;

  store::StoreSharedPtr store_;
  store::GreylistTimes times_;  // `now` is filled per call
  int ipv4Prefix_ = 24, ipv6Prefix_ = 64;
  bool normalizeSender_ = true;
  ClientList exemptClients_;
  std::vector<std::pair<Cidr, std::string>> poolNetworks_;
  std::vector<std::string> exemptSpfDomains_;  // lowercase
  std::vector<std::string> exemptLocalParts_;  // lowercase
  Check greylisted_;
  ReplyTemplate storeFailureReply_;
};

}  // namespace mxguard::stages
