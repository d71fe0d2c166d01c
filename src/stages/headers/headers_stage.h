// headers_stage.h - RFC 5322 form of the message header, each check separately switchable with
// its own reply: required and unique fields (3.6), Date syntax (3.3, 4.3) and plausibility,
// Message-ID form (3.6.4), field names (2.2), line length (2.1.1), raw 8-bit without SMTPUTF8,
// NUL bytes, and a parseable From (3.6.2).
// Must not: keep the header itself (only counts and the first few values: memory is bounded
// whatever the message holds).
#pragma once

#include <vector>

#include "config/config_file.h"
#include "core/stage.h"
#include "stages/check_action.h"
#include "stages/registry.h"

namespace mxguard::stages {

class HeadersStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "headers"; }
  Findings onHeader(Connection& tx, const Header& header) const override;
  Findings onEoh(Connection& tx) const override;

 private:
  Check missingDate_, missingFrom_, duplicate_, dateSyntax_, dateRange_, messageId_, fieldName_,
      lineLength_, eightBit_, nul_, fromSyntax_;
  std::chrono::seconds maxAge_{0}, maxFuture_{0};
};

}  // namespace mxguard::stages
