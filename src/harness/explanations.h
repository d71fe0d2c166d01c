// explanations.h - what each check means for the sender and what they must do to fix it: the
// texts of `mxguard-check --explain`, one row per stage.outcome reason, in explanations.cpp.
// Must not: be consulted by the daemon's data plane (replies come from the policy's templates).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mxguard::harness {

struct Explanation {
  std::string_view meaning;  // plain words; {client} {helo} {sender} {domain} are filled in
  std::string_view fix;      // what the sender must do
};

// The row for a reason ("helo.invalid"; "callout.cached_reject" as "callout.reject";
// "ratelimit.<limit>" as "ratelimit.*"), or nullptr.
const Explanation* explanationFor(std::string_view reason);
std::vector<std::string_view> explainedReasons();  // every row's reason (for a test)

}  // namespace mxguard::harness
