// decision.cpp - names of actions and check modes (traces, logs, --json: change them only with
// the golden files) and the order of a hook's findings.
// Must not: apply a decision (the Engine does).
#include "core/decision.h"

#include <algorithm>

namespace mxguard {

const char* toString(Action a) {
  switch (a) {
    case Action::Pass:
      return "pass";
    case Action::Reject:
      return "reject";
    case Action::Tempfail:
      return "tempfail";
    case Action::Quarantine:
      return "quarantine";
  }
  return "?";
}

const char* toString(CheckMode m) {
  switch (m) {
    case CheckMode::Enforce:
      return "reject";
    case CheckMode::Warn:
      return "warn";
    case CheckMode::Off:
      return "off";
  }
  return "?";
}

namespace {

bool isRefusal(const Decision& d) {
  return d.action != Action::Pass;
}

}  // namespace

bool Findings::refused() const {
  return std::any_of(items_.begin(), items_.end(), [](const Decision& d) {
    return isRefusal(d) && d.mode == CheckMode::Enforce;
  });
}

const Decision& Findings::decisive() const {
  for (const auto& d : items_)
    if (isRefusal(d) && d.mode == CheckMode::Enforce) return d;
  for (const auto& d : items_)
    if (isRefusal(d) && d.mode == CheckMode::Warn) return d;
  return items_.front();
}

}  // namespace mxguard
