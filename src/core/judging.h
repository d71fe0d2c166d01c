// judging.h - how one class of recipients judges what the stages found: check modes, a stage's
// mode and on_failure, and the stages and checks it skips. The policy's own judging is the
// default class's; a [class NAME] of the policy overrides some of it for the recipients it names.
// Must not: change what the stages look up: every class judges the same findings (evaluated
// once), which is why a class may set modes and skips but no lookup setting.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "core/decision.h"

namespace mxguard {

enum class StageMode { Enforce, Observe };    // observe = warn-only: log the would-be reject
enum class FailureMode { Tempfail, Accept };  // what a dependency failure becomes

struct Judging {
  std::string name;  // the class's name; empty for the policy itself
  // "stage.check" -> the mode this class gives the check. A check absent here keeps the mode
  // the stage reported (the policy's).
  std::map<std::string, CheckMode, std::less<>> checkModes;
  std::map<std::string, StageMode, std::less<>> stageModes;   // "spf" -> observe
  std::map<std::string, FailureMode, std::less<>> onFailure;  // "rbl" -> accept
  std::set<std::string, std::less<>> skip;                    // "greylist", "helo.non_fqdn"

  CheckMode checkMode(std::string_view stage, std::string_view check, CheckMode reported) const;
  StageMode stageMode(std::string_view stage, StageMode policy) const;
  FailureMode failureMode(std::string_view stage, FailureMode policy) const;
  // Asked for every stage of every phase (header fields included): empty is the common case.
  bool skipsStage(std::string_view stage) const {
    return !skip.empty() && skip.find(stage) != skip.end();
  }
  // The stage, or the check of that stage, is skipped ("spf" or "helo.non_fqdn").
  bool skips(std::string_view stage, std::string_view check) const;
  bool empty() const {
    return checkModes.empty() && stageModes.empty() && onFailure.empty() && skip.empty();
  }
};

}  // namespace mxguard
