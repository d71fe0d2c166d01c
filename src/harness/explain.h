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
  std::string policyClass;  // the recipient class that judged it; empty: the policy itself
};

// The access map entries and recipient classes that applied (issue 23), one line each:
// "client: clients.cidr:3: 192.0.2.0/24: skip spf dmarc",
// "class finance: <bob@finance.example.com> finance.domains:1: finance.example.com".
std::vector<std::string> appliedRules(const Outcome& o);
std::string formatAppliedText(const std::vector<std::string>& applied);

std::vector<Finding> findings(const Outcome& o, const Transcript& t);
std::string formatFindingsText(const std::vector<Finding>& f);
std::string formatFindingsJson(const std::vector<Finding>& f);  // a JSON array

}  // namespace mxguard::harness
