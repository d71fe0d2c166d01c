// dkim_alignment.cpp - a small, bounded From reader (not a full RFC 5322 parser: the headers
// stage judges syntax) and suffix matching on label boundaries.
// Must not: recurse (comments are skipped with a depth counter) or allocate per input byte.
#include "stages/dkim/dkim_alignment.h"

#include <cctype>

namespace mxguard::stages {
namespace {

bool under(std::string_view name, std::string_view parent) {
  if (name == parent) return true;
  return name.size() > parent.size() && name.substr(name.size() - parent.size()) == parent &&
         name[name.size() - parent.size() - 1] == '.';
}

// Drops comments and quoted strings, so '@', '<' and ',' inside them do not count.
std::string stripCommentsAndQuotes(std::string_view v) {
  std::string out;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        quoted = false;
      continue;
    }
    if (depth > 0) {
      if (c == '\\')
        ++i;
      else if (c == '(')
        ++depth;
      else if (c == ')')
        --depth;
      continue;
    }
    if (c == '"')
      quoted = true;
    else if (c == '(')
      depth = 1;
    else
      out.push_back(c);
  }
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

}  // namespace

std::string normalizeDomain(std::string_view d) {
  std::string out(d);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::vector<std::string> fromDomains(std::string_view fromValue, size_t limit) {
  std::string v = stripCommentsAndQuotes(fromValue.substr(0, 64 * 1024));
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= v.size() && out.size() < limit) {
    // Mailboxes are separated by ',' (and a group's members follow ':' and end with ';').
    size_t end = v.find_first_of(",;", pos);
    std::string_view part =
        std::string_view(v).substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    size_t colon = part.find(':');
    if (colon != std::string_view::npos && part.find('<') > colon) part = part.substr(colon + 1);
    size_t lt = part.find('<');
    if (lt != std::string_view::npos) {
      size_t gt = part.find('>', lt);
      part =
          part.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
    }
    size_t at = part.rfind('@');
    if (at != std::string_view::npos) {
      std::string domain = normalizeDomain(trim(part.substr(at + 1)));
      if (!domain.empty()) out.push_back(domain);
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

std::optional<std::string> coveringDomain(std::string_view fromDomain,
                                          const std::vector<std::string>& configured) {
  std::optional<std::string> best;
  for (const auto& c : configured)
    if (under(fromDomain, c) && (!best || c.size() > best->size())) best = c;
  return best;
}

bool signsFor(std::string_view d, std::string_view fromDomain, std::string_view boundary) {
  std::string dn = normalizeDomain(d);
  return !dn.empty() && under(fromDomain, dn) && under(dn, boundary);
}

}  // namespace mxguard::stages
