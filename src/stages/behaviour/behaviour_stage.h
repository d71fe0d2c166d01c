// behaviour_stage.h - how the client behaves over one connection, the checks large providers run
// against bulk senders and address harvesters: too many RSETs, too many refused recipients, a HELO
// name that changes, too many messages per connection. Reads the Engine's SessionCounters.
// Must not: count anything itself (the Engine counts; a stage is shared by all connections).
#pragma once

#include <vector>

#include "config/config_file.h"
#include "core/stage.h"
#include "stages/check_action.h"
#include "stages/registry.h"

namespace mxguard::stages {

class BehaviourStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "behaviour"; }
  Findings onHelo(Connection& tx) const override;
  Findings onMail(Connection& tx) const override;
  Findings onRcpt(Connection& tx, const std::string& recipient) const override;

 private:
  TemplateVars varsFor(const Connection& tx, size_t limit, size_t count) const;

  std::string ourHostname_;
  Check tooManyRsets_, tooManyRejectedRecipients_, heloChanged_, tooManyMessages_;
  size_t maxRsets_ = 20, maxRejectedRecipients_ = 20, maxMessages_ = 100;
};

}  // namespace mxguard::stages
