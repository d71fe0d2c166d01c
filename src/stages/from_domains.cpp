// from_domains.cpp - a small, bounded From reader (not a full RFC 5322 parser: the headers stage
// judges syntax).
// Must not: recurse (comments are skipped by scanComment) or read past 64 KiB of a field.
#include "stages/from_domains.h"

#include "base/strings.h"
#include "core/rfc5322_comment.h"

namespace mxguard::stages {
namespace {

// Drops comments and quoted strings, so '@', '<' and ',' inside them do not count.
std::string stripCommentsAndQuotes(std::string_view v) {
  std::string out;
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
    if (c == '"')
      quoted = true;
    else if (c == '(')
      i = scanComment(v, i).end - 1;  // an unterminated comment runs to the end
    else
      out.push_back(c);
  }
  return out;
}

}  // namespace

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
      std::string domain = canonicalHostName(trim(part.substr(at + 1)));
      if (!domain.empty()) out.push_back(domain);
    }
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

}  // namespace mxguard::stages
