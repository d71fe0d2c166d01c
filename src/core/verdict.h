// verdict.h - what the Engine answers a front door for one SMTP step.
// Must not: carry anything a front door cannot send (a Reply is already built and sanitised).
#pragma once

#include <optional>
#include <string>

#include "base/phase.h"
#include "core/decision.h"
#include "core/reply.h"

namespace mxguard {

struct Verdict {
  // Pass = go on (libmilter SMFIS_CONTINUE); Reject/Tempfail with reply; Quarantine (accept but
  // hold).
  Action action = Action::Pass;
  std::optional<Reply> reply;
  std::string reason;            // "rbl.listed"
  std::string stage;             // "rbl"
  Phase phase = Phase::Connect;  // the phase the deciding stage ran in (not when it was sent)

  bool isRejection() const { return action == Action::Reject || action == Action::Tempfail; }
  static Verdict pass(Phase p) {
    Verdict v;
    v.phase = p;
    return v;
  }
};

}  // namespace mxguard
