// counters.h - process-wide event counters ("rbl.misconfigured_answer",
// "rdns.dns_failure_accepted") so degraded modes show in a stat as well as a log line (Envoy's
// rule). Must not: be used for per-connection state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace mxguard {

void countEvent(std::string_view name, uint64_t by = 1);
uint64_t counterValue(std::string_view name);
std::map<std::string, uint64_t> countersSnapshot();

}  // namespace mxguard
