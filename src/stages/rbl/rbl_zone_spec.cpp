// rbl_zone_spec.cpp - parsing of Postfix's dnsbl filter syntax plus a bitmask form.
// Must not: allow a domain with characters DNS names cannot hold.
#include "stages/rbl/rbl_zone_spec.h"

#include <cctype>

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
  std::string inner = s.substr(1, s.size() - 2);
  size_t start = 0;
  while (start <= inner.size()) {
    size_t semi = inner.find(';', start);
    std::string item =
        inner.substr(start, semi == std::string::npos ? std::string::npos : semi - start);
    size_t dots = item.find("..");
    if (dots == std::string::npos) {
      if (!parseNumber(item, 255, &a)) return false;
      b = a;
    } else if (!parseNumber(item.substr(0, dots), 255, &a) ||
               !parseNumber(item.substr(dots + 2), 255, &b) || a > b) {
      return false;
    }
    ranges.push_back({int(a), int(b)});
    if (semi == std::string::npos) break;
    start = semi + 1;
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

}  // namespace

std::optional<RblZoneSpec> RblZoneSpec::parse(const std::string& text, std::string* error) {
  RblZoneSpec z;
  std::string rest = text;
  size_t star = rest.rfind('*');
  if (star != std::string::npos) {
    std::string w = rest.substr(star + 1);
    bool negative = !w.empty() && w[0] == '-';
    long value = 0;
    if (!parseNumber(negative ? w.substr(1) : w, 1000, &value)) {
      *error = "invalid weight '" + w + "' in '" + text + "' (use e.g. *2 or *-1)";
      return std::nullopt;
    }
    z.weight_ = static_cast<int>(negative ? -value : value);
    if (z.weight_ == 0) {
      *error = "weight 0 in '" + text + "' would make the zone count for nothing";
      return std::nullopt;
    }
    rest = rest.substr(0, star);
  }
  size_t eq = rest.find('=');
  z.domain_ = rest.substr(0, eq);
  if (!validDomain(z.domain_)) {
    *error = "invalid zone domain '" + z.domain_ + "' in '" + text + "'";
    return std::nullopt;
  }
  if (eq == std::string::npos) return z;
  std::string filter = rest.substr(eq + 1);
  if (!filter.empty() && filter[0] == '&') {
    std::string m = filter.substr(1);
    long value = 0;
    if (m.find('.') == std::string::npos) {
      if (!parseNumber(m, 0xffffffffL, &value) || value == 0) {
        *error = "invalid bitmask '" + filter + "' in '" + text + "' (use e.g. &4 or &0.0.0.4)";
        return std::nullopt;
      }
    } else {
      std::vector<std::string> parts;
      size_t s = 0;
      while (true) {
        size_t d = m.find('.', s);
        parts.push_back(m.substr(s, d == std::string::npos ? std::string::npos : d - s));
        if (d == std::string::npos) break;
        s = d + 1;
      }
      long o = 0;
      value = 0;
      bool ok = parts.size() == 4;
      for (size_t i = 0; ok && i < 4; ++i) {
        ok = parseNumber(parts[i], 255, &o);
        value = (value << 8) | o;
      }
      if (!ok || value == 0) {
        *error = "invalid bitmask '" + filter + "' in '" + text + "' (use e.g. &4 or &0.0.0.4)";
        return std::nullopt;
      }
    }
    z.hasMask_ = true;
    z.mask_ = static_cast<uint32_t>(value);
    return z;
  }
  std::vector<std::string> parts;
  size_t s = 0;
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
  (void)s;
  bool ok = parts.size() == 4;
  for (size_t i = 0; ok && i < 4; ++i) ok = parseOctet(parts[i], z.octets_[i]);
  if (!ok) {
    *error = "invalid filter '" + filter + "' in '" + text +
             "' (use e.g. 127.0.0.2, 127.0.0.[2..11], 127.0.[0..255].[1;3] or &0.0.0.4)";
    return std::nullopt;
  }
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
