// decision.h - what a stage reports about a transaction: per check, an action, its would-be
// reply, a reason named "stage.outcome" (rbl.listed, helo.invalid) with its evidence, the check's
// mode and whether a dependency failed; and Findings, the ordered list one hook reports.
// Must not: apply itself; the Engine alone decides what a decision becomes (mode, observe,
// on_failure, delay, soft bounce).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/reply.h"

namespace mxguard {

enum class Action { Pass, Reject, Tempfail, Quarantine };

const char* toString(Action a);

// A check's mode as the admin set it (Postfix: the restriction, warn_if_reject, or absent).
// Config words: reject | warn | off.
enum class CheckMode { Enforce, Warn, Off };

const char* toString(CheckMode m);  // "reject", "warn", "off"

struct Decision {
  Action action = Action::Pass;
  std::optional<Reply> reply;  // required for Reject and Tempfail
  std::string reason;          // "rbl.listed", "rdns.no_ptr", "helo.ok"
  std::string detail;          // evidence: "zen.example.net=127.0.0.2", "SERVFAIL"
  // A dependency (DNS, Redis, callout target) failed: the stage's on_failure applies
  // (tempfail -> held like Postfix's defer_if_permit; accept -> logged and ignored).
  bool dependencyFailure = false;
  // The mode of the check this is the outcome of. For a dependency failure: the strongest mode
  // of the checks the failed lookup would have decided (a warn check cannot defer mail).
  CheckMode mode = CheckMode::Enforce;
  std::string check;  // that check's option name ("not_confirmed"); empty: the stage's own

  static Decision pass(std::string reason, std::string detail = {}) {
    Decision d;
    d.reason = std::move(reason);
    d.detail = std::move(detail);
    return d;
  }
  static Decision reject(Reply r, std::string reason, std::string detail = {}) {
    Decision d = pass(std::move(reason), std::move(detail));
    d.action = Action::Reject;
    d.reply = std::move(r);
    return d;
  }
  // A policy tempfail (e.g. a 4xx the admin configured); not a dependency failure.
  static Decision tempfail(Reply r, std::string reason, std::string detail = {}) {
    Decision d = reject(std::move(r), std::move(reason), std::move(detail));
    d.action = Action::Tempfail;
    return d;
  }
  // DNS timeout / SERVFAIL and the like: the reply must be 4xx.
  static Decision dependencyTempfail(Reply r, std::string reason, std::string detail = {}) {
    Decision d = tempfail(std::move(r), std::move(reason), std::move(detail));
    d.dependencyFailure = true;
    return d;
  }
  // Sets the mode of the check(s) the decision is the outcome of.
  Decision&& under(CheckMode m, std::string checkName) && {
    mode = m;
    check = std::move(checkName);
    return std::move(*this);
  }
};

// Everything one hook reports, in the order it checked: warnings first, then at most one
// decision that ends the stage. Converts from a single Decision or nothing, so a stage with one
// check stays one line.
class Findings {
 public:
  Findings() = default;
  Findings(std::nullopt_t) {}  // NOLINT: "return std::nullopt" means nothing to report
  Findings(Decision d) { items_.push_back(std::move(d)); }  // NOLINT
  Findings(std::optional<Decision> d) {                     // NOLINT
    if (d) items_.push_back(std::move(*d));
  }

  void add(Decision d) { items_.push_back(std::move(d)); }
  void add(std::optional<Decision> d) {
    if (d) items_.push_back(std::move(*d));
  }
  void add(Findings more) {
    for (auto& d : more.items_) items_.push_back(std::move(d));
  }
  // Whether an enforced check refused: the stage stops checking there (first failure wins).
  bool refused() const;

  const std::vector<Decision>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  bool has_value() const { return !items_.empty(); }
  explicit operator bool() const { return !items_.empty(); }
  bool operator==(std::nullopt_t) const { return items_.empty(); }
  // The finding that decides: the first enforced refusal, else the first warning, else the
  // first finding. Must not be called on an empty Findings.
  const Decision& decisive() const;
  const Decision& operator*() const { return decisive(); }
  const Decision* operator->() const { return &decisive(); }

 private:
  std::vector<Decision> items_;
};

}  // namespace mxguard
