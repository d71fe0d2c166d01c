// check_action.cpp - the reject/warn/off switch of Haraka's helo.checks, for every stage.
// Must not: format warnings or drop a warn check's outcome: the Engine logs every would-be reply.
#include "stages/check_action.h"

namespace mxguard::stages {

void declareCheck(std::vector<config::OptionSpec>& specs, const std::string& name,
                  const std::string& defaultAction, const std::string& defaultReply,
                  const std::string& doc) {
  specs.push_back({name, config::OptionKind::String, defaultAction, false, 0, 0, doc, true});
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

void requireTempfail(const config::Section& section, const std::string& option,
                     const ReplyTemplate& reply, const std::string& why) {
  if (reply.code() < 500) return;
  std::string message = why;
  if (size_t at = message.find("{code}"); at != std::string::npos)
    message.replace(at, std::string_view("{code}").size(), std::to_string(reply.code()));
  section.fail(option, message);
}

ReplyTemplate parseTempfailTemplate(const config::Section& section, const std::string& option,
                                    const std::set<std::string>& vars, const std::string& why) {
  ReplyTemplate reply = parseTemplate(section, option, vars);
  requireTempfail(section, option, reply, why);
  return reply;
}

Check parseCheck(const config::Section& section, const std::string& name,
                 const std::set<std::string>& vars) {
  Check c;
  c.name = name;
  std::string action = section.getString(name);
  if (action == "reject")
    c.mode = CheckMode::Enforce;
  else if (action == "warn")
    c.mode = CheckMode::Warn;
  else if (action == "off")
    c.mode = CheckMode::Off;
  else
    section.fail(name, "invalid value '" + action + "' (use reject, warn or off)");
  c.reply = parseTemplate(section, "reply_" + name, vars);
  return c;
}

std::optional<Decision> failCheck(const Check& check, const std::string& stage,
                                  const TemplateVars& vars, const std::string& detail) {
  if (check.off()) return std::nullopt;
  Reply reply = check.reply.render(vars);
  std::string reason = stage + "." + check.name;
  // A 4xx template stays a policy tempfail (not a dependency failure): the template decides.
  Decision d = reply.isPermanent() ? Decision::reject(std::move(reply), reason, detail)
                                   : Decision::tempfail(std::move(reply), reason, detail);
  return std::move(d).under(check.mode, check.name);
}

Decision undecided(Decision failure, std::initializer_list<const Check*> checks) {
  const Check* decisive = nullptr;
  for (const Check* c : checks)
    if (!decisive || static_cast<int>(c->mode) < static_cast<int>(decisive->mode)) decisive = c;
  if (!decisive) return failure;
  return std::move(failure).under(decisive->mode, decisive->name);
}

}  // namespace mxguard::stages
