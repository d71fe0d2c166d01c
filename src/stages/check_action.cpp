// check_action.cpp - the reject/warn/off switch of Haraka's helo.checks, for every stage.
// Must not: let a 4xx template make a DNS-independent check look temporary (the template decides).
#include "stages/check_action.h"

namespace mxguard::stages {

void declareCheck(std::vector<config::OptionSpec>& specs, const std::string& name,
                  const std::string& defaultAction, const std::string& defaultReply,
                  const std::string& doc) {
  specs.push_back({name, config::OptionKind::String, defaultAction, false, 0, 0,
                   doc + " (reject | warn | off)"});
  specs.push_back({"reply_" + name, config::OptionKind::String, defaultReply, false, 0, 0,
                   "reply when " + name + " rejects"});
}

ReplyTemplate parseTemplate(const config::Section& section, const std::string& option,
                            const std::set<std::string>& vars) {
  try {
    return ReplyTemplate::parse(section.getString(option), vars);
  } catch (const TemplateError& e) {
    section.fail(option, e.what());
  }
}

Check parseCheck(const config::Section& section, const std::string& name,
                 const std::set<std::string>& vars) {
  Check c;
  c.name = name;
  std::string action = section.getString(name);
  if (action == "reject")
    c.action = CheckAction::Reject;
  else if (action == "warn")
    c.action = CheckAction::Warn;
  else if (action == "off")
    c.action = CheckAction::Off;
  else
    section.fail(name, "invalid value '" + action + "' (use reject, warn or off)");
  c.reply = parseTemplate(section, "reply_" + name, vars);
  return c;
}

std::optional<Decision> failCheck(const Check& check, const std::string& stage,
                                  const TemplateVars& vars, const std::string& detail) {
  if (check.action == CheckAction::Off) return std::nullopt;
  Reply reply = check.reply.render(vars);
  std::string reason = stage + "." + check.name;
  if (check.action == CheckAction::Warn) {
    std::string smtp = reply.toSmtp();
    while (!smtp.empty() && (smtp.back() == '\n' || smtp.back() == '\r')) smtp.pop_back();
    return Decision::pass(reason,
                          "warn: would reply " + smtp + (detail.empty() ? "" : "; " + detail));
  }
  if (reply.isPermanent()) return Decision::reject(std::move(reply), reason, detail);
  return Decision::tempfail(std::move(reply), reason, detail);
}

}  // namespace mxguard::stages
