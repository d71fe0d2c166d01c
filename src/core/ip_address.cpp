// ip_address.cpp - parsing through inet_pton, so every textual form the kernel accepts works.
// Must not: resolve names; only literal addresses are accepted.
#include "core/ip_address.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstdio>
#include <cstring>

namespace mxguard {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (text.size() >= 5 && strncasecmp(text.data(), "IPv6:", 5) == 0) text.remove_prefix(5);
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  IpAddress ip;
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    std::memcpy(ip.bytes_.data(), &a4, 4);
    ip.v4_ = true;
    return ip;
  }
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(ip.bytes_.data(), &a6, 16);
    ip.v4_ = false;
    // ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket: treat it as that IPv4 client.
    static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(ip.bytes_.data(), kMapped, 12) == 0) {
      std::array<uint8_t, 16> b{};
      std::memcpy(b.data(), ip.bytes_.data() + 12, 4);
      ip.bytes_ = b;
      ip.v4_ = true;
    }
    return ip;
  }
  return std::nullopt;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4_ ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

std::string IpAddress::reversedName() const {
  // Built by hand, not with snprintf: every connection asks for it (rbl, rdns, spf).
  std::string out;
  if (v4_) {
    out.reserve(15);
    for (int i = 3; i >= 0; --i) {
      unsigned v = bytes_[i];
      if (v >= 100) out += static_cast<char>('0' + v / 100);
      if (v >= 10) out += static_cast<char>('0' + v / 10 % 10);
      out += static_cast<char>('0' + v % 10);
      if (i) out += '.';
    }
    return out;
  }
  static const char* kHex = "0123456789abcdef";
  out.reserve(63);
  for (int i = 15; i >= 0; --i) {
    out += kHex[bytes_[i] & 0xf];
    out += '.';
    out += kHex[bytes_[i] >> 4];
    if (i) out += '.';
  }
  return out;
}

std::string IpAddress::ptrName() const {
  return reversedName() + (v4_ ? ".in-addr.arpa" : ".ip6.arpa");
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int maxBits = ip->isV4() ? 32 : 128;
  int prefix = maxBits;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : digits) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > maxBits) return std::nullopt;
  }
  Cidr c;
  c.network_ = *ip;
  c.prefix_ = prefix;
  return c;
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.isV4() != network_.isV4()) return false;
  const auto& a = ip.bytes();
  const auto& n = network_.bytes();
  int bits = prefix_;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((a[i] & mask) != (n[i] & mask)) return false;
  }
  return true;
}

std::string Cidr::toString() const {
  return network_.toString() + "/" + std::to_string(prefix_);
}

}  // namespace mxguard
