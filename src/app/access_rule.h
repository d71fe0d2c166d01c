// access_rule.h - the words of an access map entry's value: "allow", "skip spf dmarc",
// "reject [CODE X.Y.Z] [text]", "tempfail [CODE X.Y.Z] [text]".
// Must not: accept a value it cannot explain: every map line is checked at load.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/access.h"

namespace mxguard::app {

// Whether a skip name ("spf", "helo.non_fqdn") names a stage or a check; returns an error
// text for one that does not.
using SkipNameCheck = std::function<std::optional<std::string>(std::string_view name)>;

// The rule `value` says, for a map consulted for `subject`; nullopt with *error set when the
// value is not a rule. A reject without a reply text gets Postfix's wording for the subject
// ("554 5.7.1 Sender address rejected: Access denied").
std::optional<AccessRule> parseAccessRule(std::string_view value, AccessSubject subject,
                                          const SkipNameCheck& checkSkip, std::string* error);

}  // namespace mxguard::app
