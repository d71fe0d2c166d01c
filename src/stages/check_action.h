// check_action.h - what stages share: a check's mode (reject | warn | off) with its reply
// template, declared as two options "<check>" and "reply_<check>", and template parsing that
// turns a TemplateError into a config error on the right line.
// Must not: apply the mode (the Engine does); it only turns a failed check into a Decision.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config_file.h"
#include "core/decision.h"
#include "core/reply_template.h"

namespace mxguard::stages {

struct Check {
  std::string name;  // "non_fqdn"
  CheckMode mode = CheckMode::Off;
  ReplyTemplate reply;

  bool off() const { return mode == CheckMode::Off; }
};

void declareCheck(std::vector<config::OptionSpec>& specs, const std::string& name,
                  const std::string& defaultAction, const std::string& defaultReply,
                  const std::string& doc);
Check parseCheck(const config::Section& section, const std::string& name,
                 const std::set<std::string>& vars);
ReplyTemplate parseTemplate(const config::Section& section, const std::string& option,
                            const std::set<std::string>& vars);

// The reply for a temporary failure (a DNS or store outage, an unreachable callout target) must
// be 4xx: a 5xx would bounce mail that a retry delivers. A 5xx `reply`, parsed from `option`, is
// a config error `why` at its line, "{code}" in `why` replaced by the reply's code.
void requireTempfail(const config::Section& section, const std::string& option,
                     const ReplyTemplate& reply, const std::string& why);
// parseTemplate, then requireTempfail.
ReplyTemplate parseTempfailTemplate(const config::Section& section, const std::string& option,
                                    const std::set<std::string>& vars, const std::string& why);

// A failed check: its rendered reply as a rejection (or tempfail, by the reply's class) under
// the check's mode, which the Engine applies; Off -> nullopt (callers skip Off checks anyway).
std::optional<Decision> failCheck(const Check& check, const std::string& stage,
                                  const TemplateVars& vars, const std::string& detail);

// A dependency failure leaves undecided every check that needed the failed lookup: it takes the
// mode of the strongest of them (the first among equals names it), so a failure that only warn
// checks needed is logged, never deferred.
Decision undecided(Decision failure, std::initializer_list<const Check*> checks);

}  // namespace mxguard::stages
