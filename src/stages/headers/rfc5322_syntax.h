// rfc5322_syntax.h - the pieces of RFC 5322 the headers stage checks: date-time (with the
// obsolete forms of section 4.3), msg-id, and mailbox lists, each parser saying what is wrong.
// Must not: allocate without bound or recurse on attacker-controlled nesting (comments are
// depth-limited).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mxguard::stages {

// Seconds since the epoch (UTC) of an RFC 5322 date-time, or nullopt with *problem set.
std::optional<int64_t> parseRfc5322Date(std::string_view value, std::string* problem);
// Whether `value` is one msg-id "<left@right>" (CFWS around allowed); *problem when not.
bool isMsgId(std::string_view value, std::string* problem);
// Whether `value` is a mailbox-list (section 3.4; From, section 3.6.2); *problem when not.
// allowUtf8: SMTPUTF8 mail may carry UTF-8 in addresses (RFC 6532).
bool isMailboxList(std::string_view value, bool allowUtf8, std::string* problem);

}  // namespace mxguard::stages
