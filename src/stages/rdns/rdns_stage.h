// rdns_stage.h - the client's reverse DNS: a PTR exists, it resolves back to the client
// (forward-confirmed), and optionally it does not look dynamic/residential; records the
// connection's iprev result (RFC 8601 2.7.3) in tx.client.authResults.
// Must not: reply 5xx when a lookup failed temporarily (450 4.7.25, via on_failure).
#pragma once

#include <vector>

#include "config/config_file.h"
#include "core/stage.h"
#include "stages/check_action.h"
#include "stages/registry.h"

namespace mxguard::stages {

class RdnsStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "rdns"; }
  std::vector<dns::Query> prefetch(Phase phase, const Connection& tx) const override;
  Findings onConnect(Connection& tx) const override;

  // Whether `name` looks dynamic: a pattern as a whole label part, or the client's octets.
  bool looksDynamic(const std::string& name, const IpAddress& ip) const;

 private:
  // Whether any check is on: with all three off the stage looks nothing up.
  bool active() const { return !noPtr_.off() || !notConfirmed_.off() || !dynamic_.off(); }

  dns::ResolverSharedPtr resolver_;
  std::chrono::milliseconds timeout_{5000};
  Check noPtr_, notConfirmed_, dynamic_;
  ReplyTemplate tempfailReply_;
  std::vector<std::string> patterns_;
};

}  // namespace mxguard::stages
