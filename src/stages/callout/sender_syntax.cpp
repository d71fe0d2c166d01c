// sender_syntax.cpp - control bytes first (the dangerous case names its byte), then the limits,
// the most specific first.
// Must not: parse quoting: the domain starts after the last "@" whatever the local part holds.
#include "stages/callout/sender_syntax.h"

#include <cstdio>

namespace mxguard::stages {
namespace {

constexpr size_t kMaxLocalPart = 64;  // RFC 5321 4.5.3.1.1
constexpr size_t kMaxDomain = 255;    // 4.5.3.1.2
constexpr size_t kMaxPath = 256;      // 4.5.3.1.3, with the angle brackets
constexpr size_t kShown = 64;

std::string tooLong(const char* what, size_t limit, size_t size, const char* section) {
  return std::string(what) + " longer than " + std::to_string(limit) + " octets (" +
         std::to_string(size) + "; RFC 5321 " + section + ")";
}

}  // namespace

std::optional<std::string> malformedSender(std::string_view sender) {
  for (unsigned char c : sender)
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      return std::string("character ") + hex + " is not allowed in an address";
    }
  auto at = sender.rfind('@');
  size_t local = at == std::string_view::npos ? sender.size() : at;
  size_t domain = at == std::string_view::npos ? 0 : sender.size() - at - 1;
  if (local > kMaxLocalPart) return tooLong("local part", kMaxLocalPart, local, "4.5.3.1.1");
  if (domain > kMaxDomain) return tooLong("domain", kMaxDomain, domain, "4.5.3.1.2");
  if (sender.size() + 2 > kMaxPath)
    return tooLong("path", kMaxPath, sender.size() + 2, "4.5.3.1.3");
  return std::nullopt;
}

std::string shownSender(const std::string& sender) {
  return sender.size() > kShown ? sender.substr(0, kShown) + "..." : sender;
}

}  // namespace mxguard::stages
