// dkim_tags.cpp - a linear, allocation-bounded reader of a tag-list ("tag=value; ...").
// Must not: keep more than the tags it names (a 1 MB signature field stays a few bytes here).
#include "stages/dkim/dkim_tags.h"

#include "base/strings.h"

namespace mxguard::stages {
namespace {

bool isFws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string withoutFws(std::string_view v, size_t limit) {
  std::string out;
  for (char c : v) {
    if (isFws(c)) continue;
    if (out.size() >= limit) break;
    out.push_back(c);
  }
  return out;
}

}  // namespace

SignatureTags parseSignatureTags(std::string_view value) {
  constexpr size_t kNameLimit = 255;  // a domain name or selector never needs more
  SignatureTags t;
  bool seenD = false, seenS = false, seenQ = false, seenB = false;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t semi = value.find(';', pos);
    std::string_view item =
        value.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string name = lower(withoutFws(item.substr(0, eq), 8));
      std::string_view v = item.substr(eq + 1);
      if (name == "d" && !seenD) {
        t.d = withoutFws(v, kNameLimit);
        seenD = true;
      } else if (name == "s" && !seenS) {
        t.s = withoutFws(v, kNameLimit);
        seenS = true;
      } else if (name == "q" && !seenQ) {
        t.q = withoutFws(v, kNameLimit);
        t.qPresent = seenQ = true;
      } else if (name == "b" && !seenB) {
        t.b8 = withoutFws(v, 8);
        seenB = true;
      }
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return t;
}

bool hasUsableQueryMethod(std::string_view q, bool present) {
  if (!present) return true;
  std::string methods = lower(withoutFws(q, 1024));
  size_t pos = 0;
  while (pos <= methods.size()) {
    size_t colon = methods.find(':', pos);
    std::string_view m = std::string_view(methods).substr(
        pos, colon == std::string::npos ? std::string::npos : colon - pos);
    if (m == "dns/txt") return true;
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return false;
}

}  // namespace mxguard::stages
