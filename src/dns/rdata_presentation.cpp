// rdata_presentation.cpp - see rdata_presentation.h; fuzzed by tests/fuzz/fuzz_dns_rdata.cpp.
#include "dns/rdata_presentation.h"

#include <arpa/inet.h>

#include <algorithm>

#include "core/resolver.h"

namespace mxguard::dns {

std::optional<std::string> wireName(const unsigned char* p, size_t len, size_t offset) {
  std::string out;
  const size_t start = offset;
  while (offset < len) {
    size_t l = p[offset++];
    if (l == 0) return out;
    if (l > 63 || l > len - offset) return std::nullopt;  // a pointer or past the end
    if (offset + l - start >= 255) return std::nullopt;   // RFC 1035 3.1: 255 octets with root
    for (size_t i = 0; i < l; ++i)
      if (p[offset + i] < 0x21 || p[offset + i] > 0x7e || p[offset + i] == '.') return std::nullopt;
    if (!out.empty()) out += '.';
    out.append(reinterpret_cast<const char*>(p + offset), l);
    offset += l;
  }
  return std::nullopt;  // no root label
}

std::optional<std::string> presentRdata(int type, const unsigned char* p, size_t len) {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (static_cast<RrType>(type)) {
    case RrType::A:
      if (len != 4 || !inet_ntop(AF_INET, p, buf, sizeof buf)) return std::nullopt;
      return buf;
    case RrType::AAAA:
      if (len != 16 || !inet_ntop(AF_INET6, p, buf, sizeof buf)) return std::nullopt;
      return buf;
    case RrType::PTR:
    case RrType::CNAME:
    case RrType::NS:
      return wireName(p, len, 0);
    case RrType::MX: {
      if (len < 3) return std::nullopt;
      auto name = wireName(p, len, 2);
      if (!name) return std::nullopt;
      return std::to_string((p[0] << 8) | p[1]) + " " + *name;
    }
    case RrType::TXT: {
      std::string out;
      for (size_t i = 0; i < len;) {
        size_t l = p[i++];
        out.append(reinterpret_cast<const char*>(p + i), std::min(l, len - i));
        i += std::min(l, len - i);
      }
      return out;
    }
    case RrType::SOA:
      return "";
  }
  return "";
}

}  // namespace mxguard::dns
