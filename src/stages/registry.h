// registry.h - the explicit table of stages: name, phases it may run in, its options, its factory
// (Exim's condition table; no static self-registration, which static libraries drop).
// Must not: build policies (policy_loader does) or hold per-connection state.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/phase.h"
#include "config/config_file.h"
#include "core/resolver.h"
#include "core/stage.h"
#include "smtp/smtp_probe.h"
#include "stages/callout/probe_coordinator.h"
#include "store/store.h"

namespace mxguard::stages {

struct CalloutFinding;  // callout_stage.h

// What a stage may use besides its own section.
struct StageContext {
  dns::ResolverSharedPtr resolver;
  store::StoreSharedPtr store;     // shared state (callout cache, rate limits)
  smtp::SmtpProbeSharedPtr probe;  // the callout client; null = the real SmtpProbe
  std::string ourHostname;         // for forged-HELO checks when the MTA does not send macro j
  std::chrono::milliseconds dnsTimeout{5000};  // the section's `timeout` (policy loader)
  // The section's `mode = observe`: the Engine applies it; a stage that records what it applied
  // (dmarc's report facts) needs to know nothing was.
  bool observe = false;
  // The callout probes in flight (caps, single-flight); null = the process-wide one, which is
  // what keeps them counted across reloads. Tests pass their own to stay independent.
  std::shared_ptr<ProbeCoordinator<CalloutFinding>> calloutProbes;
};

struct StageFactory {
  std::string_view name;  // config section, log tag, trace label and reason prefix
  PhaseSet phases;        // where its hooks may run; checked at load
  std::vector<config::OptionSpec> (*options)();
  // Throws config::ConfigError (via Section::fail) for a bad value.
  StageSharedPtr (*create)(const config::Section&, const StageContext&);
  // Counts every command (behaviour, ratelimit): still runs when a rejection is already held,
  // so a client refused at HELO cannot RSET or harvest addresses without limit.
  bool runsWhileRejected = false;
  // Stages whose results this one reads: each must be listed before it in [engine] stages.
  std::vector<std::string_view> after = {};
};

const std::vector<StageFactory>& registry();
const StageFactory* findStage(std::string_view name);

}  // namespace mxguard::stages
