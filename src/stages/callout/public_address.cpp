// public_address.cpp - the IANA special-purpose registries (RFC 6890 and successors), reduced to
// what a probe must never reach: a forged sender domain can point its MX anywhere, and an IPv6
// name for an IPv4 address (via a NAT64 gateway or a 6to4 relay) is that address.
// Must not: treat a range as public because it is rarely routed: when in doubt, refuse.
#include "stages/callout/public_address.h"

#include <algorithm>
#include <cstdint>

namespace mxguard::stages {
namespace {

bool publicV4(const uint8_t* b) {
  if (b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224) return false;  // + 240/4, broadcast
  if (b[0] == 169 && b[1] == 254) return false;
  if (b[0] == 172 && (b[1] & 0xf0) == 16) return false;
  if (b[0] == 192 && b[1] == 168) return false;
  if (b[0] == 100 && (b[1] & 0xc0) == 64) return false;                    // carrier-grade NAT
  if (b[0] == 192 && b[1] == 0 && (b[2] == 0 || b[2] == 2)) return false;  // IETF, TEST-NET-1
  if (b[0] == 198 && (b[1] & 0xfe) == 18) return false;                    // benchmarking 198.18/15
  if (b[0] == 198 && b[1] == 51 && b[2] == 100) return false;              // TEST-NET-2
  if (b[0] == 203 && b[1] == 0 && b[2] == 113) return false;               // TEST-NET-3
  return true;
}

bool zero(const uint8_t* b, size_t n) {
  return std::all_of(b, b + n, [](uint8_t x) { return x == 0; });
}

bool publicV6(const std::array<uint8_t, 16>& b) {
  if (b[0] == 0xff) return false;                                                  // multicast
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;                         // link-local
  if ((b[0] & 0xfe) == 0xfc) return false;                                         // unique local
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false;  // 2001:db8::/32
  // Teredo 2001::/32: the client's IPv4 address is obfuscated in it, and relays reach anything.
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return false;
  // 64:ff9b::/96 (RFC 6052): a NAT64 gateway connects to the IPv4 address in its last 32 bits.
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(kNat64, kNat64 + 12, b.begin())) return publicV4(b.data() + 12);
  // The rest of 0::/8: loopback, unspecified, IPv4-compatible ::a.b.c.d, 64:ff9b:1::/48 (local
  // NAT64, RFC 8215), unassigned space: never a mail server's address.
  if (b[0] == 0) return false;
  if (b[0] == 0x01 && b[1] == 0 && zero(b.data() + 2, 6)) return false;  // discard 100::/64
  if (b[0] == 0x20 && b[1] == 0x02) return publicV4(b.data() + 2);       // 6to4 (RFC 3056)
  return true;
}

}  // namespace

bool isPublicAddress(const IpAddress& ip) {
  return ip.isV4() ? publicV4(ip.bytes().data()) : publicV6(ip.bytes());
}

}  // namespace mxguard::stages
