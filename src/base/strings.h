// strings.h - the string helpers every layer shares: ASCII case folding, host-name canonical
// form, whitespace and line-end trimming. One of each, so two layers cannot disagree on them.
// Must not: depend on the C locale (SMTP and DNS names are ASCII; bytes >= 0x80 pass unchanged).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace mxguard {

// 'A'-'Z' become 'a'-'z'; every other byte is kept.
std::string lower(std::string_view s);

// lower(), and one trailing '.' dropped: "Mail.Example.COM." names the same host as
// "mail.example.com" (RFC 1034 3.1), so host and domain names compare in this form.
std::string canonicalHostName(std::string_view name);

// Whether a and b are equal but for ASCII case (header field names, SPF terms).
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// Without leading and trailing ASCII white space (space, \t, \n, \v, \f, \r).
std::string trim(std::string_view s);

// Without the CR/LF a line or reply ends with, so it can be quoted inside one log line.
std::string trimLineEnd(std::string s);

// Every field between separators, empty ones too: "a..b" -> {"a", "", "b"}, "" -> {""}. For
// grammars where an empty field is an error the caller must see ("12::30", "127..0.1").
std::vector<std::string> splitFields(std::string_view s, char separator);

// "1 second", "36 seconds", "4 minutes", "3 hours": rounded up, so a client told to wait this
// long is never early.
std::string humanDuration(std::chrono::milliseconds ms);

}  // namespace mxguard
