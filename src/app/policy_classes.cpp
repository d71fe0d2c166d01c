// policy_classes.cpp - reads [class NAME] sections into PolicyClass and works out the build
// modes that let every class judge the same findings.
// Must not: accept an option a class cannot honour: anything but modes and skips is the
// policy's, shared by every class, and an error here says so.
#include "app/policy_classes.h"

#include "app/access_tables.h"
#include "base/strings.h"
#include "config/config_error.h"
#include "config/value_parsers.h"
#include "stages/registry.h"

namespace mxguard::app {
namespace {

std::optional<CheckMode> checkModeWord(std::string_view w) {
  if (w == "reject") return CheckMode::Enforce;
  if (w == "warn") return CheckMode::Warn;
  if (w == "off") return CheckMode::Off;
  return std::nullopt;
}

[[noreturn]] void fail(const config::Value& v, const std::string& section,
                       const std::string& option, const std::string& message) {
  throw config::ConfigError(v.file, v.line, section + "." + option, message);
}

// Inline recipients ("@finance.example.com", "support@", "finance.example.com") as two maps,
// one of addresses and one of domains, written as if they were files.
void inlineRecipients(const std::vector<std::string>& items, const config::Value& at,
                      const std::string& section, PolicyClass* cls) {
  std::string addresses, domains;
  for (const auto& item : items)
    (item.find('@') != std::string::npos ? addresses : domains) += item + "\n";
  auto add = [&](maps::MapKind kind, const std::string& text) {
    if (text.empty()) return;
    try {
      std::string where = at.file + ":" + std::to_string(at.line);
      cls->recipients.push_back(
          recipientSet(maps::Map::parse(kind, text, where + " recipients"), where));
    } catch (const config::ConfigError& e) {
      fail(at, section, "recipients", e.message);
    }
  };
  add(maps::MapKind::Address, addresses);
  add(maps::MapKind::Domain, domains);
}

PolicyClass loadClass(const config::ConfigFile& file, const std::string& section,
                      const std::string& name, const StageCatalog& catalog) {
  PolicyClass cls;
  cls.judging.name = name;
  std::set<std::string> seen;
  bool hasRecipients = false;
  config::Section asSection(section, file.file(), file.sectionLine(section), {}, {});
  for (const auto& [option, value] : file.options(section)) {
    if (!seen.insert(option).second) fail(value, section, option, "given twice");
    if (option == "recipients") {
      std::vector<std::string> inlineItems;
      for (const auto& item : config::splitList(value.text)) {
        if (item.find(':') == std::string::npos) {
          inlineItems.push_back(item);
          continue;
        }
        config::Section one(section, value.file, value.line,
                            {{"recipients", config::OptionKind::List, "", false, 0, 0, ""}},
                            {{"recipients", value}});
        cls.recipients.push_back(recipientSet(loadMapReference(
            one, "recipients", item,
            {maps::MapKind::Address, maps::MapKind::Domain, maps::MapKind::Regexp})));
      }
      inlineRecipients(inlineItems, value, section, &cls);
      hasRecipients = !cls.recipients.empty();
      continue;
    }
    if (option == "skip") {
      for (const auto& item : config::splitList(value.text)) {
        std::string s = lower(item);
        if (auto problem = catalog.skipProblem(s)) fail(value, section, option, *problem);
        cls.judging.skip.insert(s);
      }
      continue;
    }
    size_t dot = option.find('.');
    std::string stage = option.substr(0, dot);
    std::string what = dot == std::string::npos ? "" : option.substr(dot + 1);
    if (dot == std::string::npos || !catalog.known(stage))
      fail(value, section, option,
           "unknown option; a class takes recipients, skip, and STAGE.CHECK = reject|warn|off, "
           "STAGE.mode = enforce|observe, STAGE.on_failure = tempfail|accept");
    if (!catalog.listed(stage))
      fail(value, section, option,
           "stage '" + stage +
               "' is not in [engine] stages: a class judges the policy's stages, it cannot add "
               "one (list it there, and skip it in the classes that should not run it)");
    std::string text = trim(value.text);
    if (what == "mode") {
      if (text != "enforce" && text != "observe")
        fail(value, section, option,
             "invalid value '" + sanitize(text) + "' (use enforce or observe)");
      cls.judging.stageModes[stage] = text == "enforce" ? StageMode::Enforce : StageMode::Observe;
    } else if (what == "on_failure") {
      if (text != "tempfail" && text != "accept")
        fail(value, section, option,
             "invalid value '" + sanitize(text) + "' (use tempfail or accept)");
      cls.judging.onFailure[stage] =
          text == "tempfail" ? FailureMode::Tempfail : FailureMode::Accept;
    } else if (catalog.hasCheck(stage, what)) {
      auto mode = checkModeWord(text);
      if (!mode)
        fail(value, section, option,
             "invalid value '" + sanitize(text) + "' (use reject, warn or off)");
      cls.judging.checkModes[option] = *mode;
    } else {
      fail(value, section, option,
           "'" + what + "' is not a check of [" + stage +
               "]: a class can set its checks (reject|warn|off), mode and on_failure; every "
               "other setting is looked up once for all classes: set it in [" +
               stage + "]");
    }
  }
  if (!hasRecipients)
    asSection.fail("recipients",
                   "a class needs recipients (maps KIND:PATH, or user@domain, user@, @domain, "
                   "domain)");
  return cls;
}

}  // namespace

StageCatalog::StageCatalog(const config::ConfigFile& file, const std::vector<std::string>& listed) {
  for (const auto& factory : stages::registry()) {
    Entry& entry = stages_[std::string(factory.name)];
    auto specs = factory.options();
    for (const auto& spec : specs)
      if (spec.check) entry.checks.insert(spec.name);
    entry.listed = std::find(listed.begin(), listed.end(), factory.name) != listed.end();
    if (!entry.listed) continue;
    std::vector<config::OptionSpec> all = specs;
    // The common options are validated with the stage (policy_loader); here only the checks.
    for (const char* common : {"mode", "on_failure", "timeout"})
      all.push_back({common, config::OptionKind::String, "", false, 0, 0, ""});
    config::Section section = file.section(factory.name, all);
    for (const auto& check : entry.checks)
      policyModes_[std::string(factory.name) + "." + check] =
          checkModeWord(section.getString(check)).value_or(CheckMode::Off);
  }
}

bool StageCatalog::known(std::string_view stage) const {
  return stages_.count(stage) > 0;
}

bool StageCatalog::listed(std::string_view stage) const {
  auto it = stages_.find(stage);
  return it != stages_.end() && it->second.listed;
}

bool StageCatalog::hasCheck(std::string_view stage, std::string_view check) const {
  auto it = stages_.find(stage);
  return it != stages_.end() && it->second.checks.count(check) > 0;
}

CheckMode StageCatalog::policyMode(std::string_view stageDotCheck) const {
  auto it = policyModes_.find(stageDotCheck);
  return it == policyModes_.end() ? CheckMode::Off : it->second;
}

std::optional<std::string> StageCatalog::skipProblem(std::string_view name) const {
  size_t dot = name.find('.');
  std::string_view stage = name.substr(0, dot);
  std::string known;
  for (const auto& [n, e] : stages_) known += (known.empty() ? "" : ", ") + n;
  if (!this->known(stage))
    return "cannot skip '" + sanitize(name) + "': no stage '" + sanitize(stage) +
           "' (stages: " + known + ")";
  if (dot != std::string_view::npos && !hasCheck(stage, name.substr(dot + 1)))
    return "cannot skip '" + sanitize(name) + "': [" + std::string(stage) + "] has no check '" +
           sanitize(name.substr(dot + 1)) + "'";
  return std::nullopt;
}

std::optional<std::string> className(std::string_view section) {
  if (section.rfind("class ", 0) != 0) return std::nullopt;
  return trim(section.substr(6));
}

std::vector<PolicyClass> loadClasses(const config::ConfigFile& file, const StageCatalog& catalog) {
  std::vector<PolicyClass> classes;
  for (const auto& section : file.sectionNames()) {
    auto name = className(section);
    if (!name) continue;
    bool valid = !name->empty();
    for (unsigned char c : *name)
      if (!(std::islower(c) || std::isdigit(c) || c == '_' || c == '-')) valid = false;
    if (!valid || *name == "access")
      throw config::ConfigError(
          file.file(), file.sectionLine(section), "",
          "class name '" + sanitize(*name) + "' must be lower-case letters, digits, '_' or '-'");
    classes.push_back(loadClass(file, section, *name, catalog));
  }
  return classes;
}

Judging judgingForClasses(const std::vector<PolicyClass>& classes,
                          const std::set<std::string>& skipNames, const StageCatalog& catalog,
                          config::ConfigFile* file) {
  std::set<std::string> differing;
  for (const auto& cls : classes) {
    for (const auto& [check, mode] : cls.judging.checkModes)
      if (mode != catalog.policyMode(check)) differing.insert(check);
    for (const auto& s : cls.judging.skip)
      if (s.find('.') != std::string::npos) differing.insert(s);
  }
  for (const auto& s : skipNames)
    if (s.find('.') != std::string::npos) differing.insert(s);
  Judging policy;
  for (const auto& check : differing) {
    CheckMode mode = catalog.policyMode(check);
    // A warn check never stops its stage and is reported to every class already.
    if (mode == CheckMode::Warn || !catalog.listed(check.substr(0, check.find('.')))) continue;
    // Skipping a check the policy has off changes nothing.
    bool modeDiffers = false;
    for (const auto& cls : classes) {
      auto it = cls.judging.checkModes.find(check);
      if (it != cls.judging.checkModes.end() && it->second != mode) modeDiffers = true;
    }
    if (mode == CheckMode::Off && !modeDiffers) continue;
    size_t dot = check.find('.');
    *file = file->withValue(check.substr(0, dot), check.substr(dot + 1), "warn");
    policy.checkModes[check] = mode;
  }
  return policy;
}

std::set<std::string, std::less<>> relaxableChecks(const std::vector<PolicyClass>& classes,
                                                   const std::set<std::string>& skipNames) {
  std::set<std::string, std::less<>> out(skipNames.begin(), skipNames.end());
  for (const auto& cls : classes) {
    const Judging& j = cls.judging;
    out.insert(j.skip.begin(), j.skip.end());
    for (const auto& [check, mode] : j.checkModes)
      if (mode != CheckMode::Enforce) out.insert(check);
    for (const auto& [stage, mode] : j.stageModes)
      if (mode == StageMode::Observe) out.insert(stage);
    for (const auto& [stage, failure] : j.onFailure)
      if (failure == FailureMode::Accept) out.insert(stage);
  }
  return out;
}

}  // namespace mxguard::app
