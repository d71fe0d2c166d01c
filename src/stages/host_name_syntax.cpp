// host_name_syntax.cpp - letters, digits and hyphens in labels of 1..63 octets, at most 255 in
// all, no hyphen at a label's ends, and a top-level label that is not all digits.
// Must not: echo raw bytes: non-printable characters are named in hex.
#include "stages/host_name_syntax.h"

#include <cctype>
#include <cstdio>

namespace mxguard::stages {

std::optional<std::string> hostNameProblem(std::string_view name) {
  if (name.empty()) return "empty name";
  if (name.back() == '.') name.remove_suffix(1);
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '.') continue;
    char buf[64];
    if (c >= 0x21 && c < 0x7f)
      std::snprintf(buf, sizeof buf, "character '%c' is not allowed in a host name", c);
    else
      std::snprintf(buf, sizeof buf, "character 0x%02X is not allowed in a host name", c);
    return std::string(buf);
  }
  if (name.size() > 255) return "name longer than 255 octets (" + std::to_string(name.size()) + ")";
  size_t start = 0;
  std::string_view last;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return std::string("empty label");
    if (label.size() > 63) return std::string("label longer than 63 octets");
    if (label.front() == '-' || label.back() == '-')
      return std::string("label may not start or end with '-'");
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  bool allDigits = true;
  for (unsigned char c : last) allDigits = allDigits && std::isdigit(c);
  if (allDigits && name.find('.') != std::string_view::npos)
    return std::string("top-level label is all numeric");
  return std::nullopt;
}

}  // namespace mxguard::stages
