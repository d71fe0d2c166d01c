// ip_address.h - parsed client addresses (IPv4, IPv6, IPv4-mapped folded to IPv4), CIDR matching,
// and the DNS names derived from an address (DNSBL query prefix, PTR name).
// Must not: do any I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mxguard {

class IpAddress {
 public:
  // Accepts "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" (folded to IPv4), "IPv6:2001:db8::1"
  // and bracketed forms "[192.0.2.1]". Returns nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);

  bool isV4() const { return v4_; }
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }  // IPv4 in bytes_[0..3]
  std::string toString() const;                                    // canonical (inet_ntop)
  // DNSBL prefix: "1.2.0.192" for 192.0.2.1; 32 nibbles "1.0.0.0....8.b.d.0.1.0.0.2" for IPv6.
  std::string reversedName() const;
  // "1.2.0.192.in-addr.arpa" / "<nibbles>.ip6.arpa".
  std::string ptrName() const;
  bool operator==(const IpAddress&) const = default;

 private:
  std::array<uint8_t, 16> bytes_{};
  bool v4_ = true;
};

class Cidr {
 public:
  // "192.0.2.0/24", "2001:db8::/32", or a bare address (host route). nullopt when malformed.
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& ip) const;
  std::string toString() const;

 private:
  IpAddress network_;
  int prefix_ = 0;
};

}  // namespace mxguard
