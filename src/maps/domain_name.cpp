// domain_name.cpp - case folding by hand (not the C locale), libidn2 only for names that need
// it: an all-ASCII name is already its own A-label form, and most subjects are ASCII.
// Must not: pass libidn2 a name without its terminating NUL, or keep libidn2's buffer.
#include "maps/domain_name.h"

#include <idn2.h>

#include "core/ip_address.h"

namespace mxguard::maps {
namespace {

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string shown(char c) {
  if (c > 0x20 && c < 0x7f) return std::string(1, c);
  static const char* kHex = "0123456789abcdef";
  unsigned char u = static_cast<unsigned char>(c);
  return std::string("\\x") + kHex[u >> 4] + kHex[u & 0xf];
}

}  // namespace

bool lookupForm(std::string_view name, std::string& out, std::string* why) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) {
    if (why) *why = "empty name";
    return false;
  }
  bool ascii = true;
  for (char c : name)
    if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
  if (ascii) {
    out.resize(name.size());
    for (size_t i = 0; i < name.size(); ++i) out[i] = lowerAscii(name[i]);
    return true;
  }
  std::string input(name);
  char* converted = nullptr;
  // NFC_INPUT: "u" + U+0308 and "ü" are one name to a reader, so they are one key here.
  int rc = idn2_to_ascii_8z(input.c_str(), &converted, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  if (rc != IDN2_OK) {
    idn2_free(converted);
    if (why) *why = idn2_strerror(rc);
    return false;
  }
  out.assign(converted);
  idn2_free(converted);
  for (char& c : out) c = lowerAscii(c);
  return true;
}

std::string keyNameProblem(std::string_view name) {
  if (name.size() > 253) return "longer than 253 octets";
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return "empty label";
    if (label.size() > 63) return "label '" + std::string(label) + "' longer than 63 octets";
    for (char c : label)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        return "'" + shown(c) + "' in a name (letters, digits, '-' and '_' only)";
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

bool plausibleSubject(std::string_view name) {
  return !name.empty() && name.front() != '.' && name.back() != '.' &&
         name.find("..") == std::string_view::npos;
}

bool literalForm(std::string_view text, std::string& out) {
  if (text.size() < 3 || text.front() != '[' || text.back() != ']') return false;
  auto ip = IpAddress::parse(text);
  if (!ip) return false;
  out = ip->isV4() ? "[" + ip->toString() + "]" : "[ipv6:" + ip->toString() + "]";
  return true;
}

}  // namespace mxguard::maps
