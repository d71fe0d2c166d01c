// auth_results.cpp - RFC 8601 section 2.2 grammar, the writing side and the authserv-id of the
// reading side (what section 5 needs to recognise a forgery of our own id).
// Must not: parse whole foreign Authentication-Results fields; only their first token matters.
#include "core/auth_results.h"

#include <cctype>

#include "base/strings.h"
#include "core/rfc5322_comment.h"

namespace mxguard {
namespace {

bool isTokenChar(unsigned char c) {
  // RFC 2045 token: printable ASCII except SPACE and tspecials.
  static const std::string_view tspecials = "()<>@,;:\\\"/[]?=";
  return c > 32 && c < 127 && tspecials.find(static_cast<char>(c)) == std::string_view::npos;
}

std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) break;
    out.push_back(c >= 32 && c < 127 ? static_cast<char>(c) : '?');
  }
  return out;
}

// A property value: dot-atom-ish values (domains, local@domain) go bare, the rest quoted.
std::string propertyValue(std::string_view v) {
  std::string s = printable(v, 256);
  bool bare = !s.empty();
  for (unsigned char c : s) bare = bare && (isTokenChar(c) || c == '@');
  if (bare) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  return q + "\"";
}

std::string comment(std::string_view v) {
  std::string out = "(";
  for (char c : printable(v, 200)) out.push_back(c == '(' || c == ')' || c == '\\' ? ' ' : c);
  return out + ")";
}

// Skips folding white space and (nested) comments.
void skipCfws(std::string_view s, size_t& i) {
  while (i < s.size()) {
    char c = s[i];
    if (c == '(') {
      i = scanComment(s, i).end;  // an unterminated comment runs to the end
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else {
      break;
    }
  }
}

}  // namespace

std::string formatAuthenticationResults(std::string_view authservId,
                                        const std::vector<AuthResult>& results) {
  std::string out = printable(authservId, 255) + ";";
  if (results.empty()) return out + " none";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    out += "\n\t" + printable(r.method, 32) + "=" + printable(r.result, 32);
    if (!r.reason.empty()) out += " " + comment(r.reason);
    for (const auto& [name, value] : r.properties)
      out += " " + printable(name, 64) + "=" + propertyValue(value);
    if (i + 1 < results.size()) out += ";";
  }
  return out;
}

std::optional<std::string> authservIdOf(std::string_view v) {
  size_t i = 0;
  skipCfws(v, i);
  std::string id;
  if (i < v.size() && v[i] == '"') {  // quoted-string form
    for (++i; i < v.size() && v[i] != '"'; ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      // RFC 5322 qtext/quoted-pair hold no control bytes: such a field is not ours to match.
      unsigned char c = static_cast<unsigned char>(v[i]);
      if (c < 0x20 || c == 0x7f) return std::nullopt;
      id.push_back(v[i]);
    }
    if (i >= v.size()) return std::nullopt;
  } else {
    while (i < v.size() && isTokenChar(static_cast<unsigned char>(v[i]))) id.push_back(v[i++]);
  }
  if (id.empty()) return std::nullopt;
  return id;
}

bool sameAuthservId(std::string_view a, std::string_view b) {
  // A reader that compares ids as host names takes "mx.example.net." for ours: so must we, or
  // that forgery would be kept.
  return canonicalHostName(a) == canonicalHostName(b);
}

}  // namespace mxguard
