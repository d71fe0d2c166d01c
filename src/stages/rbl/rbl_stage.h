// rbl_stage.h - DNS blocklists and allow lists for the client address (IPv4 reversed octets,
// IPv6 nibbles), postscreen-style weights and threshold, the listing zone's TXT as the reason.
// Must not: treat an answer outside 127.0.0.0/8 or a 127.255.255.x "query refused" code as a
// listing: those mean the list is misconfigured or refuses us, and are logged loudly instead.
#pragma once

#include <map>
#include <vector>

#include "config/config_file.h"
#include "core/reply_template.h"
#include "core/stage.h"
#include "stages/rbl/rbl_zone_spec.h"
#include "stages/registry.h"

namespace mxguard::stages {

class RblStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "rbl"; }
  std::vector<dns::Query> prefetch(Phase phase, const Connection& tx) const override;
  Findings onConnect(Connection& tx) const override;

 private:
  std::vector<dns::Query> queriesFor(const IpAddress& ip) const;  // one A per zone
  // A listed client's reply: the listing zone's own template, else the stage's, with the
  // listing's TXT record (asked at `name`) when the template quotes it.
  Reply listedReply(Connection& tx, TemplateVars vars, const std::string& name) const;

  dns::ResolverSharedPtr resolver_;
  std::chrono::milliseconds timeout_{5000};
  std::vector<RblZoneSpec> zones_;
  int threshold_ = 1;
  ReplyTemplate reply_;
  ReplyTemplate tempfailReply_;
  std::map<std::string, ReplyTemplate> zoneReplies_;
};

}  // namespace mxguard::stages
