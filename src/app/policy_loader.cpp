// policy_loader.cpp - [engine] options, the common per-stage options (mode, on_failure, timeout),
// and the stage table lookups; every error goes out through config::ConfigError.
// Must not: start anything (no threads, no sockets): loading is pure so --check-config is safe.
#include "app/policy_loader.h"

#include <algorithm>
#include <set>

#include "app/access_tables.h"
#include "app/policy_classes.h"
#include "base/log.h"
#include "base/strings.h"
#include "config/config_file.h"
#include "stages/registry.h"

namespace mxguard::app {
namespace {

using config::OptionKind;
using config::OptionSpec;

std::vector<OptionSpec> engineSpecs() {
  return {
      {"stages", OptionKind::List, "", false, 0, 0,
       "stages to run, in this order; a stage not listed does not run"},
      {"delay_reject", OptionKind::Bool, "yes", false, 0, 0,
       "send connect/HELO/MAIL rejections at RCPT (Postfix smtpd_delay_reject)"},
      {"soft_bounce", OptionKind::Bool, "no", false, 0, 0,
       "turn every 5xx into 4xx (Postfix soft_bounce), for trying a policy safely"},
      {"exempt_recipients", OptionKind::List, "postmaster abuse", false, 0, 0,
       "local parts accepted whatever the stages say (RFC 5321 4.5.1)"},
      {"whitelist_clients", OptionKind::List, "", false, 0, 0,
       "client addresses/CIDRs (IPv4 and IPv6) that skip every stage"},
      {"whitelist_authenticated", OptionKind::Bool, "yes", false, 0, 0,
       "clients that authenticated (SMTP AUTH) skip every stage"},
      {"authentication_results", OptionKind::Bool, "yes", false, 0, 0,
       "add an Authentication-Results field (RFC 8601) with the spf and dkim results"},
      {"authserv_id", OptionKind::String, "", false, 0, 0,
       "authserv-id of that field; empty = the MTA's host name (macro j)"},
      {"max_forged_authentication_results", OptionKind::Int, "20", false, 0, 100,
       "fields claiming our authserv-id removed from one message; more: 550 5.7.1"},
      {"dns_budget", OptionKind::Duration, "10s", false, 0, 600000,
       "the most one message waits for DNS over all stages; 0 = no cap beyond each timeout"},
  };
}

std::vector<OptionSpec> commonStageSpecs() {
  return {
      {"mode", OptionKind::String, "enforce", false, 0, 0,
       "enforce: send rejections; observe: log them only (warn-only)"},
      {"on_failure", OptionKind::String, "tempfail", false, 0, 0,
       "when a dependency (DNS) fails: tempfail (4xx, unless a later check rejects) or accept"},
      {"timeout", OptionKind::Duration, "5s", false, 10, 120000,
       "deadline for this stage's DNS lookups"},
  };
}

std::string knownStageNames() {
  std::string out;
  for (const auto& f : stages::registry()) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

StageEntry buildStage(const config::ConfigFile& file, const stages::StageFactory& factory,
                      const PolicyLoadOptions& options) {
  config::Section section = file.section(factory.name, stageOptionSpecs(factory));

  StageEntry entry;
  entry.phases = factory.phases;
  entry.runsWhileRejected = factory.runsWhileRejected;
  std::string mode = section.getString("mode");
  if (mode == "enforce")
    entry.mode = StageMode::Enforce;
  else if (mode == "observe")
    entry.mode = StageMode::Observe;
  else
    section.fail("mode", "invalid value '" + mode + "' (use enforce or observe)");
  std::string onFailure = section.getString("on_failure");
  if (onFailure == "tempfail")
    entry.onFailure = FailureMode::Tempfail;
  else if (onFailure == "accept")
    entry.onFailure = FailureMode::Accept;
  else
    section.fail("on_failure", "invalid value '" + onFailure + "' (use tempfail or accept)");
  entry.dnsTimeout = section.getDuration("timeout");

  stages::StageContext context;
  context.resolver = options.resolver;
  context.store = options.store;
  context.ourHostname = options.ourHostname;
  context.dnsTimeout = entry.dnsTimeout;
  context.observe = entry.mode == StageMode::Observe;
  entry.stage = factory.create(section, context);
  return entry;
}

std::string joinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += std::string(i == 0                  ? ""
                       : i + 1 == names.size() ? " and "
                                               : ", ") +
           std::string(names[i]);
  return out;
}

PolicySharedPtr build(const config::ConfigFile& original, const PolicyLoadOptions& options) {
  config::ConfigFile file = original;  // judgingForClasses may set build modes
  // Every section must be [engine], [access], a class or a known stage: a typo must not silently
  // disable a check.
  for (const auto& name : file.sectionNames()) {
    if (name == "engine" || name == "access" || className(name)) continue;
    if (name.empty())
      throw config::ConfigError(file.file(), file.sectionLine(name), "",
                                "options must be inside a section ([engine] or a stage name)");
    if (!stages::findStage(name))
      throw config::ConfigError(file.file(), file.sectionLine(name), name,
                                "unknown section [" + name +
                                    "]; known: engine, access, class NAME, " + knownStageNames());
  }
  auto policy = std::make_shared<Policy>();
  policy->source = file.file();
  policy->resolver = options.resolver;
  policy->recorder = options.recorder;

  config::Section engine = file.section("engine", engineSpecs());
  auto& settings = policy->engine;
  settings.delayReject = engine.getBool("delay_reject");
  settings.softBounce = engine.getBool("soft_bounce");
  settings.whitelistAuthenticated = engine.getBool("whitelist_authenticated");
  settings.addAuthenticationResults = engine.getBool("authentication_results");
  settings.authservId = engine.getString("authserv_id");
  settings.maxForgedAuthenticationResults =
      static_cast<size_t>(engine.getInt("max_forged_authentication_results"));
  settings.dnsBudget = engine.getDuration("dns_budget");
  for (unsigned char c : settings.authservId)
    if (c <= 32 || c >= 127 ||
        std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos)
      engine.fail("authserv_id",
                  "'" + settings.authservId +
                      "' is not a token (RFC 8601 2.2: a host name such as mx.example.com)");
  settings.exemptLocalParts.clear();
  for (const auto& local : engine.getList("exempt_recipients"))
    settings.exemptLocalParts.push_back(lower(local));
  for (const auto& text : engine.getList("whitelist_clients")) {
    auto cidr = Cidr::parse(text);
    if (!cidr)
      engine.fail("whitelist_clients", "invalid address or CIDR '" + text +
                                           "' (use e.g. 192.0.2.0/24 or 2001:db8::/32)");
    settings.whitelistClients.push_back(*cidr);
  }

  // Access maps and classes first: they decide the modes some checks are built with.
  StageCatalog catalog(file, engine.getList("stages"));
  std::set<std::string> skipNames;  // what access rules skip, for the build modes
  policy->access = loadAccess(file, [&](std::string_view name) {
    auto problem = catalog.skipProblem(name);
    if (!problem) skipNames.insert(std::string(name));
    return problem;
  });
  policy->classes = loadClasses(file, catalog);
  policy->judging = judgingForClasses(policy->classes, skipNames, catalog, &file);
  policy->relaxable = relaxableChecks(policy->classes, skipNames);
  policy->judgesPerRecipient =
      !policy->classes.empty() ||
      std::any_of(policy->access.begin(), policy->access.end(),
                  [](const AccessCheck& c) { return c.subject == AccessSubject::Recipient; });

  std::set<std::string> seen;
  for (const auto& name : engine.getList("stages")) {
    const auto* factory = stages::findStage(name);
    if (!factory)
      engine.fail("stages", "unknown stage '" + name + "'; known stages: " + knownStageNames());
    if (!seen.insert(name).second) engine.fail("stages", "stage '" + name + "' listed twice");
    for (auto before : factory->after)
      if (!seen.count(std::string(before)))
        engine.fail("stages", "stage '" + name + "' reads the results of " +
                                  joinNames(factory->after) + ": list " +
                                  (factory->after.size() == 1 ? "it" : "them") + " before '" +
                                  name + "'");
    policy->stages.push_back(buildStage(file, *factory, options));
  }
  // A stage's section is checked as completely when its stage is not listed (built, then
  // dropped): a typo there must not wait to break the day someone adds the stage to the list.
  for (const auto& name : file.sectionNames())
    if (name != "engine" && name != "access" && !className(name) && !seen.count(name)) {
      buildStage(file, *stages::findStage(name), options);
      logMessage(LogLevel::Warning, file.file() + ":" + std::to_string(file.sectionLine(name)) +
                                        ": section [" + name +
                                        "] is configured but not listed in engine.stages: it "
                                        "does not run");
    }
  if (policy->stages.empty())
    logMessage(LogLevel::Warning, file.file() +
                                      ": no stages listed in [engine] stages: every "
                                      "message is accepted unchecked");
  return policy;
}

}  // namespace

std::vector<config::OptionSpec> engineOptionSpecs() {
  return engineSpecs();
}

std::vector<config::OptionSpec> stageOptionSpecs(const stages::StageFactory& factory) {
  std::vector<OptionSpec> specs = commonStageSpecs();
  auto own = factory.options();
  specs.insert(specs.end(), own.begin(), own.end());
  return specs;
}

PolicySharedPtr loadPolicyFile(const std::string& path, const PolicyLoadOptions& options) {
  return build(config::ConfigFile::load(path), options);
}

PolicySharedPtr loadPolicyText(std::string_view text, const std::string& fileName,
                               const PolicyLoadOptions& options) {
  return build(config::ConfigFile::parse(text, fileName), options);
}

}  // namespace mxguard::app
