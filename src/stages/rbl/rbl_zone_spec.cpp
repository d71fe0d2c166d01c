// rbl_zone_spec.cpp - parsing of Postfix's dnsbl filter syntax plus a bitmask form.
// Must not: allow a domain with characters DNS names cannot hold.
#include "stages/rbl/rbl_zone_spec.h"

#include <cctype>

#include "base/strings.h"

namespace mxguard::stages {
namespace {

bool parseNumber(const std::string& s, long max, long* out) {
  if (s.empty() || s.size() > 10) return false;
  long v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

// "7", "[2..11]", "[1;3;5..9]"
bool parseOctet(const std::string& s, std::vector<std::pair<int, int>>& ranges) {
  long a = 0, b = 0;
  if (s.empty()) return false;
  if (s.front() != '[') {
    if (!parseNumber(s, 255, &a)) return false;
    ranges.push_back({int(a), int(a)});
    return true;
  }
  if (s.back() != ']') return false;
  for (const std::string& item : splitFields(s.substr(1, s.size() - 2), ';')) {
    size_t dots = item.find("..");
    if (dots == std::string::npos) {
      if (!parseNumber(item, 255, &a)) return false;
      b = a;
    } else if (!parseNumber(item.substr(0, dots), 255, &a) ||
               !parseNumber(item.substr(dots + 2), 255, &b) || a > b) {
      return false;
    }
    ranges.push_back({int(a), int(b)});
  }
  return true;
}

bool validDomain(const std::string& d) {
  if (d.empty() || d.size() > 200 || d.front() == '.' || d.back() == '.' ||
      d.find("..") != std::string::npos)
    return false;
  for (unsigned char c : d)
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_')) return false;
  return true;
}

// "*2", "*-1" (an allow list), without the '*'; the value checked by the caller (0 counts for
// nothing).
std::optional<int> parseWeight(const std::string& w) {
  bool negative = !w.empty() && w[0] == '-';
  long value = 0;
  if (!parseNumber(negative ? w.substr(1) : w, 1000, &value)) return std::nullopt;
  return static_cast<int>(negative ? -value : value);
}

// "4" or "0.0.0.4" (after the '&'); nullopt when malformed or 0 (a mask matching nothing).
std::optional<uint32_t> parseBitmask(const std::string& m) {
  long value = 0;
  if (m.find('.') == std::string::npos) {
    if (!parseNumber(m, 0xffffffffL, &value) || value == 0) return std::nullopt;
    return static_cast<uint32_t>(value);
  }
  std::vector<std::string> parts = splitFields(m, '.');
  long o = 0;
  bool ok = parts.size() == 4;
  for (size_t i = 0; ok && i < 4; ++i) {
    ok = parseNumber(parts[i], 255, &o);
    value = (value << 8) | o;
  }
  if (!ok || value == 0) return std::nullopt;
  return static_cast<uint32_t>(value);
}

// "127.0.[0..255].[1;3]" at the dots outside brackets.
std::vector<std::string> splitOctets(const std::string& filter) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : filter) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == '.' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

}  // namespace

std::optional<RblZoneSpec> RblZoneSpec::parse(const std::string& text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<RblZoneSpec> {
    *error = std::move(why);
    return std::nullopt;
  };
  RblZoneSpec z;
  std::string rest = text;
  if (size_t star = rest.rfind('*'); star != std::string::npos) {
    std::string w = rest.substr(star + 1);
    auto weight = parseWeight(w);
    if (!weight) return fail("invalid weight '" + w + "' in '" + text + "' (use e.g. *2 or *-1)");
    if (*weight == 0)
      return fail("weight 0 in '" + text + "' would make the zone count for nothing");
    z.weight_ = *weight;
    rest = rest.substr(0, star);
  }
  size_t eq = rest.find('=');
  z.domain_ = rest.substr(0, eq);
  if (!validDomain(z.domain_))
    return fail("invalid zone domain '" + z.domain_ + "' in '" + text + "'");
  if (eq == std::string::npos) return z;
  std::string filter = rest.substr(eq + 1);
  if (!filter.empty() && filter[0] == '&') {
    auto mask = parseBitmask(filter.substr(1));
    if (!mask)
      return fail("invalid bitmask '" + filter + "' in '" + text + "' (use e.g. &4 or &0.0.0.4)");
    z.hasMask_ = true;
    z.mask_ = *mask;
    return z;
  }
  std::vector<std::string> parts = splitOctets(filter);
  bool ok = parts.size() == 4;
  for (size_t i = 0; ok && i < 4; ++i) ok = parseOctet(parts[i], z.octets_[i]);
  if (!ok)
    return fail("invalid filter '" + filter + "' in '" + text +
                "' (use e.g. 127.0.0.2, 127.0.0.[2..11], 127.0.[0..255].[1;3] or &0.0.0.4)");
  z.hasPattern_ = true;
  return z;
}

bool RblZoneSpec::matches(const std::array<uint8_t, 4>& a) const {
  if (hasMask_) {
    uint32_t v = (uint32_t(a[0]) << 24) | (uint32_t(a[1]) << 16) | (uint32_t(a[2]) << 8) | a[3];
    return (v & mask_) != 0;
  }
  if (!hasPattern_) return true;
  for (size_t i = 0; i < 4; ++i) {
    bool any = false;
    for (auto [lo, hi] : octets_[i]) any = any || (a[i] >= lo && a[i] <= hi);
    if (!any) return false;
  }
  return true;
}

}  // namespace mxguard::stages
