// check_action.h - what stages share: a check's action (reject | warn | off) with its reply
// template, declared as two options "<check>" and "reply_<check>", and template parsing that
// turns a TemplateError into a config error on the right line.
// Must not: decide anything about a transaction; it only turns a failed check into a Decision.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config_file.h"
#include "core/decision.h"
#include "core/reply_template.h"

namespace mxguard::stages {

enum class CheckAction { Reject, Warn, Off };

struct Check {
  std::string name;  // "non_fqdn"
  CheckAction action = CheckAction::Off;
  ReplyTemplate reply;
};

void declareCheck(std::vector<config::OptionSpec>& specs, const std::string& name,
                  const std::string& defaultAction, const std::string& defaultReply,
                  const std::string& doc);
Check parseCheck(const config::Section& section, const std::string& name,
                 const std::set<std::string>& vars);
ReplyTemplate parseTemplate(const config::Section& section, const std::string& option,
                            const std::set<std::string>& vars);

// A failed check: Reject -> a rejection with the rendered reply; Warn -> a pass whose detail
// says what would have been replied; Off -> nullopt (the caller skips Off checks anyway).
std::optional<Decision> failCheck(const Check& check, const std::string& stage,
                                  const TemplateVars& vars, const std::string& detail);

}  // namespace mxguard::stages
