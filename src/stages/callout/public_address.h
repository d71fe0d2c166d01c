// public_address.h - whether a callout may connect to an address: not loopback, private,
// link-local, multicast, reserved, documentation or benchmarking space, nor an IPv6 form that
// carries such an IPv4 address (NAT64, 6to4, IPv4-compatible, Teredo).
// Must not: consult configuration: allow_private is the stage's to apply.
#pragma once

#include "core/ip_address.h"

namespace mxguard::stages {

bool isPublicAddress(const IpAddress& ip);

}  // namespace mxguard::stages
