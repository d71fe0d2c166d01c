// main.cpp - the mxguard daemon's entry point: options, --check-config, then runDaemon.
// Must not: contain logic the harness would also need (that lives in app/).
#include <cstdio>

#include "app/daemon_options.h"
#include "app/option_schema.h"
#include "app/policy_loader.h"
#include "app/resolver_factory.h"
#include "app/store_factory.h"
#include "config/config_error.h"
#include "milter/daemon.h"

using namespace mxguard;

int main(int argc, char** argv) {
  app::DaemonOptions options;
  try {
    std::string help;
    if (!app::parseDaemonCommandLine(argc, argv, options, &help)) {
      std::fputs(help.c_str(), stdout);
      return 0;
    }
    // Load everything once before starting, so a broken config never starts a daemon and
    // --check-config reports exactly what a start would.
    app::PolicyLoadOptions load;
    load.resolver = app::makeResolver(options.dns, options.configFile);
    load.store = app::makeStore(options.store);
    load.ourHostname = options.hostname;
    auto policy = app::loadPolicyFile(options.policyFile, load);
    if (options.dumpConfig) {
      std::fputs(app::dumpWritten(options.configFile, options.policyFile).c_str(), stdout);
      return 0;
    }
    if (options.checkConfig) {
      std::string names;
      for (const auto& s : policy->stages)
        names += (names.empty() ? "" : " ") + std::string(s.stage->name());
      std::string dns = options.dns.forward.empty() ? "embedded recursive resolver"
                                                    : "forward to " + options.dns.forward.front();
      std::string store =
          options.store.backend == "redis"
              ? "redis " + options.store.redisHost + ":" + std::to_string(options.store.redisPort)
              : "memory";
      if (names.empty()) names = "(none)";
      // Every map was read and every entry checked by the load: say how many and which classes.
      if (!policy->access.empty())
        names += "; access maps: " + std::to_string(policy->access.size());
      if (!policy->classes.empty()) {
        names += "; classes:";
        for (const auto& c : policy->classes) names += " " + c.judging.name;
      }
      std::string config =
          !options.configFile.empty() ? options.configFile
          : !options.missingDefaultConfig.empty()
              ? "none (" + options.missingDefaultConfig + " does not exist: built-in defaults)"
              : "none (built-in defaults)";
      std::printf(
          "mxguard: configuration OK: policy %s, stages: %s; socket %s; dns %s; store %s; "
          "config %s\n",
          options.policyFile.c_str(), names.c_str(), options.socket.c_str(), dns.c_str(),
          store.c_str(), config.c_str());
      return 0;
    }
  } catch (const app::UsageError& e) {
    std::fprintf(stderr, "mxguard: %s\nTry 'mxguard --help'.\n", e.what());
    return config::kExitUsage;
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "mxguard: %s\n", e.what());
    return config::kExitConfig;
  }
  // The one notice of a start without a configuration file (the default one is optional).
  if (!options.missingDefaultConfig.empty())
    std::fprintf(stderr,
                 "mxguard: notice: %s does not exist: running on built-in defaults (--config FILE "
                 "names a configuration file)\n",
                 options.missingDefaultConfig.c_str());
  return milter::runDaemon(options);
}
