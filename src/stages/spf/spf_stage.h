// spf_stage.h - SPF (RFC 7208) at MAIL FROM: the HELO identity (2.3) and the MAIL FROM identity
// (postmaster@<helo> for the null sender, 2.4), a per-result action, RFC 7372 replies, a
// Received-SPF field (9.1) and the spf results for Authentication-Results (RFC 8601).
// Must not: reply 5xx for a temperror (DNS failed: 4xx, via on_failure) or evaluate without a
// client address.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "config/config_file.h"
#include "core/reply_template.h"
#include "core/stage.h"
#include "stages/registry.h"
#include "stages/spf/spf_evaluator.h"

namespace mxguard::stages {

class SpfStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "spf"; }
  Findings onMail(Connection& tx) const override;

 private:
  enum class ResultAction { Accept, Reject, Tempfail };
  struct Rule {
    ResultAction action = ResultAction::Accept;
    ReplyTemplate reply;
  };
  const Rule& rule(SpfResult r) const { return rules_[static_cast<size_t>(r)]; }
  const SpfEvaluation& heloEvaluation(Connection& tx, const IpAddress& ip,
                                      std::chrono::milliseconds timeout) const;
  std::optional<Decision> decide(Connection& tx, const SpfEvaluation& e) const;

  std::shared_ptr<const SpfEvaluator> evaluator_;
  std::chrono::milliseconds timeout_{10000};
  bool checkHelo_ = true;
  std::array<Rule, 7> rules_;  // indexed by SpfResult
};

}  // namespace mxguard::stages
