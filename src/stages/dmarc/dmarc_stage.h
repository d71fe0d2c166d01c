// dmarc_stage.h - DMARC (RFC 7489) at end of message: the From domain's published policy applied
// to the results the spf and dkim stages recorded, with the domain's policy named in the reply
// (550 5.7.26), quarantine by hold or header, exemptions for trusted forwarders and mailing
// lists, the dmarc= result in Authentication-Results and the facts an aggregate report needs.
// Must not: evaluate SPF or DKIM again, or reply 5xx when the policy could not be looked up.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config_file.h"
#include "core/stage.h"
#include "stages/check_action.h"
#include "stages/client_list.h"
#include "stages/dmarc/dmarc_evaluation.h"
#include "stages/dmarc/dmarc_policy_lookup.h"
#include "stages/registry.h"

namespace mxguard::stages {

class DmarcStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "dmarc"; }
  std::vector<dns::Query> prefetch(Phase phase, const Connection& tx) const override;
  Findings onHeader(Connection& tx, const Header& header) const override;
  Findings onEom(Connection& tx) const override;

  // At most this many distinct From domains are evaluated (multiple_from not enforced).
  static constexpr size_t kMaxFromDomains = 4;

 private:
  // What a failing domain's policy becomes here: reject | quarantine | warn | off.
  enum class PolicyAction { Reject, Quarantine, Warn, Off };
  struct Outcome;    // one From domain's evaluation
  struct FromState;  // the From fields seen and their domains

  Outcome evaluate(Connection& tx, const std::string& fromDomain, bool valid) const;
  void applyExemptions(const Connection& tx, Outcome& o) const;
  Findings decide(Connection& tx, const Outcome& o) const;
  Findings quarantine(Connection& tx, const Outcome& o) const;
  std::optional<Findings> checkFromField(Connection& tx, const std::vector<std::string>& domains,
                                         size_t fromFields) const;
  void record(Connection& tx, Outcome& o) const;
  std::string detailOf(const Outcome& o) const;

  std::shared_ptr<const PublicSuffixList> psl_;
  DmarcRecordCache records_;
  dns::ResolverSharedPtr resolver_;
  std::chrono::milliseconds timeout_{5000};
  bool observe_ = false;
  std::string pctSeed_;  // keys pct sampling (pct_seed, or random per policy load)
  PolicyAction onReject_ = PolicyAction::Reject;
  PolicyAction onQuarantine_ = PolicyAction::Quarantine;
  ReplyTemplate rejectReply_;
  ReplyTemplate temperrorReply_;
  bool quarantineByHeader_ = true;
  std::string quarantineHeader_;
  ClientList trustedForwarders_;
  ClientList mailingLists_;
  Check noFrom_;
  Check multipleFrom_;
};

}  // namespace mxguard::stages
