// greylist_triplet.h - what greylisting remembers a delivery attempt by (postgrey's triplet):
// the client network (IPv4 /24, IPv6 /64 by default, or a configured pool the client retries
// from), the envelope sender with its per-message tags removed (BATV, SRS), the recipient.
// Must not: touch the store; the stage turns a triplet into store keys.
#pragma once

#include <string>
#include <string_view>

#include "core/ip_address.h"

namespace mxguard::stages {

struct GreylistTriplet {
  std::string network;    // "192.0.2.0/24", "2001:db8:1:2::/64", or a pool_networks entry
  std::string sender;     // normalised; "<>" for the null sender
  std::string recipient;  // lowercase
};

// `ip` masked to its prefix, in CIDR text.
std::string clientNetwork(const IpAddress& ip, int ipv4Prefix, int ipv6Prefix);

// Lowercase; the null sender as "<>"; with `stripTags`, a BATV tag ("prvs=0123abcd=user@",
// "msprvs1=...=user@", "btv1==...=user@") and an SRS hash and timestamp
// ("SRS0=HHHH=TT=example.org=alice@fwd.example" -> "srs0=example.org=alice@fwd.example") taken
// out: they change with every message, so a retry of the next message would never match.
std::string normalizeSender(std::string_view sender, bool stripTags);

// Store keys: at most 512 octets of sender and recipient each (an address is at most 256).
std::string tripletKey(const GreylistTriplet& t);
std::string networkKey(const std::string& network);    // the pass counter
std::string autoAllowKey(const std::string& network);  // auto-allowed while present

}  // namespace mxguard::stages
