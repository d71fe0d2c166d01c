// ratelimit_stage.h - named token-bucket limits on connections, messages, recipients or bytes,
// keyed by client address/network, sender, sender domain, authenticated user or HELO name (or a
// combination), kept in the Store so a fleet sharing one Redis enforces one limit.
// Must not: refuse mail when the Store cannot answer (that is on_failure's call), or keep any
// count in the stage object itself.
#pragma once

#include <vector>

#include "config/config_file.h"
#include "core/reply_template.h"
#include "core/stage.h"
#include "stages/ratelimit/rate_limit_spec.h"
#include "stages/registry.h"
#include "store/store.h"

namespace mxguard::stages {

class RateLimitStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "ratelimit"; }
  Findings onConnect(Connection& tx) const override;
  Findings onMail(Connection& tx) const override;
  Findings onRcpt(Connection& tx, const std::string& recipient) const override;
  Findings onEom(Connection& tx) const override;

 private:
  struct Limit {
    RateLimitSpec spec;
    ReplyTemplate reply;
  };
  // Takes `cost` from every limit counting `what`; the first refusal decides.
  std::optional<Decision> take(Connection& tx, Counted what, double cost) const;

  std::vector<Limit> limits_;
  store::StoreSharedPtr store_;
  ReplyTemplate storeFailureReply_;
};

}  // namespace mxguard::stages
