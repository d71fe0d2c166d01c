// explain.h - turns a dialogue's outcome into findings for `--explain` and `--sender-check`:
// every check that failed or would fail, with its evidence (the trace), the reply it gave or
// would give, what it means and what to do (explanations.h).
// Must not: run anything; it only reads the Outcome.
#pragma once

#include <string>
#include <vector>

#include "harness/dialogue.h"

namespace mxguard::harness {

struct Finding {
  std::string reason;    // "rbl.listed"
  std::string phase;     // where it was decided
  std::string status;    // "rejected", "deferred", "would reject", "warning", "advisory"
  std::string evidence;  // the trace detail
  std::string reply;     // what was or would be replied; may be empty
  std::string meaning;
  std::string fix;
};

std::vector<Finding> findings(const Outcome& o, const Transcript& t);
std::string formatFindingsText(const std::vector<Finding>& f);
std::string formatFindingsJson(const std::vector<Finding>& f);  // a JSON array

}  // namespace mxguard::harness
