// decision.h - what a stage hook says about a transaction: an action, a reply, and a reason named
// "stage.outcome" (rbl.listed, helo.invalid_name) with its evidence for trace and log.
// Must not: apply itself; the Session decides what a decision becomes (observe mode, delay, ...).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/reply.h"

namespace mxguard {

enum class Action { Pass, Accept, Reject, Tempfail, Discard, Quarantine, AddHeader };

const char* toString(Action a);

struct Decision {
  Action action = Action::Pass;
  std::optional<Reply> reply;  // required for Reject and Tempfail
  std::string reason;          // "rbl.listed", "rdns.no_ptr", "helo.ok"
  std::string detail;          // evidence: "zen.example.net=127.0.0.2", "SERVFAIL"
  // A dependency (DNS, Redis, callout target) failed: the stage's on_failure applies
  // (tempfail -> held like Postfix's defer_if_permit; accept -> logged and ignored).
  bool dependencyFailure = false;
  std::vector<std::pair<std::string, std::string>> headers;  // AddHeader: name, value

  static Decision pass(std::string reason, std::string detail = {}) {
    return Decision{Action::Pass, std::nullopt, std::move(reason), std::move(detail), false, {}};
  }
  static Decision reject(Reply r, std::string reason, std::string detail = {}) {
    return Decision{Action::Reject, std::move(r), std::move(reason), std::move(detail), false, {}};
  }
  // A policy tempfail (e.g. a 4xx the admin configured); not a dependency failure.
  static Decision tempfail(Reply r, std::string reason, std::string detail = {}) {
    return Decision{Action::Tempfail,  std::move(r), std::move(reason),
                    std::move(detail), false,        {}};
  }
  // DNS timeout / SERVFAIL and the like: the reply must be 4xx.
  static Decision dependencyTempfail(Reply r, std::string reason, std::string detail = {}) {
    return Decision{Action::Tempfail, std::move(r), std::move(reason), std::move(detail), true, {}};
  }
};

}  // namespace mxguard
