// incidents.h - a dependency outage is one incident per stage in the log: its first failure is
// logged with the reason, the failures while it lasts are only counted (a reminder line each
// minute), and the stage's first success 5 s or more after its last failure logs the recovery
// with the count and the duration. An admin reads two lines per outage, not one per message.
// Must not: take a lock on the success path while no stage is failing (every decision calls it).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace mxguard {

// `message` describes this failure ("rdns: rdns.dns_failure (PTR: timed out): on_failure =
// tempfail, deferring"); logged only when it opens an incident or as the minute's reminder.
void noteDependencyFailure(const std::string& stage, std::string_view message);
void noteDependencySuccess(const std::string& stage);

// Tests: how long a stage must see only successes before it counts as recovered.
void setRecoveryQuietPeriod(std::chrono::milliseconds period);

}  // namespace mxguard
