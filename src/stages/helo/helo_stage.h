// helo_stage.h - the HELO/EHLO name: present, valid RFC 5321 syntax (naming the bad character),
// not a bare IP, fully qualified, an address literal that matches the client, not our own name,
// optionally resolvable and equal to the client's verified reverse name.
// Must not: reply 5xx because DNS failed: a lookup failure is a dependency failure (4xx).
#pragma once

#include <vector>

#include "config/config_file.h"
#include "core/stage.h"
#include "stages/check_action.h"
#include "stages/registry.h"

namespace mxguard::stages {

class HeloStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "helo"; }
  std::vector<dns::Query> prefetch(Phase phase, const Transaction& tx) const override;
  Findings onHelo(Transaction& tx) const override;
  Findings onMail(Transaction& tx) const override;

 private:
  TemplateVars varsFor(const Transaction& tx, const std::string& problem) const;
  // The DNS checks, run after the syntax checks passed.
  Findings dnsChecks(Transaction& tx, const std::string& name) const;

  dns::ResolverSharedPtr resolver_;
  std::chrono::milliseconds timeout_{5000};
  std::string ourHostname_;
  Check missing_, invalid_, bareIp_, nonFqdn_, literalMismatch_, forged_, unresolvable_,
      reverseMismatch_;
  ReplyTemplate unresolvableTempfail_, reverseTempfail_;
};

}  // namespace mxguard::stages
