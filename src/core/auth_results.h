// auth_results.h - RFC 8601 Authentication-Results: the results stages record (spf, dkim), the
// one formatter of the header field, and the authserv-id reader used to strip forgeries (§5).
// Must not: decide anything; stages record results, the Engine adds and removes the header.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mxguard {

// One resinfo: "dkim=pass (reason) header.d=example.com header.s=sel".
struct AuthResult {
  std::string method;  // "spf", "dkim"
  std::string result;  // "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"
  std::string reason;  // free text, shown as an RFC 8601 comment; may be empty
  std::vector<std::pair<std::string, std::string>> properties;  // {"smtp.mailfrom", "a@b.example"}
};

// "mx.example.net;\n\tspf=pass smtp.mailfrom=a@b.example;\n\tdkim=pass header.d=b.example"
// (LF + TAB folding, as libmilter expects; "none" when there are no results). Outside values are
// stripped of control bytes and quoted when they are not RFC 8601 tokens.
std::string formatAuthenticationResults(std::string_view authservId,
                                        const std::vector<AuthResult>& results);

// The authserv-id of an Authentication-Results field value (comments and folding skipped, the
// optional version dropped); nullopt when the value does not start with one.
std::optional<std::string> authservIdOf(std::string_view fieldValue);

// Whether two authserv-ids name the same server: ASCII case and a trailing dot do not matter
// ("MX.Example.NET." is mx.example.net), as for the host names they usually are (RFC 1034 3.1).
bool sameAuthservId(std::string_view a, std::string_view b);

}  // namespace mxguard
