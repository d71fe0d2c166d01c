// domain_name.h - the one form in which map keys and subjects that are domain names meet: ASCII
// lower case, one trailing dot dropped, non-ASCII names as A-labels (libidn2, UTS #46
// non-transitional), address literals as "[192.0.2.1]" / "[ipv6:2001:db8::1]".
// Must not: treat a key differently from a subject (both go through lookupForm), or log.
#pragma once

#include <string>
#include <string_view>

namespace mxguard::maps {

// "Bücher.Example." -> "xn--bcher-kva.example". False, with libidn2's reason in *why when given,
// for an empty name or one libidn2 refuses.
bool lookupForm(std::string_view name, std::string& out, std::string* why = nullptr);

// The problem with a name in lookup form as a map key ("" when none): empty labels, labels over
// 63 octets, more than 253 octets, or characters other than letters, digits, '-' and '_'.
std::string keyNameProblem(std::string_view name);

// Whether a name in lookup form could be a host or domain a lookup is asked for: no empty
// label (a subject ".example.com" must not meet the key ".example.com").
bool plausibleSubject(std::string_view name);

// "[192.0.2.1]", "[IPv6:2001:DB8::1]" in their canonical lower-case form; false when `text` is
// not a bracketed address.
bool literalForm(std::string_view text, std::string& out);

}  // namespace mxguard::maps
