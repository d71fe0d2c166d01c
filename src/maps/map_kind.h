// map_kind.h - the kinds of map file (cidr, domain, hostname, address, regexp) and their names,
// as a policy spells them ("cidr:/etc/mxguard/clients").
// Must not: know how a kind is parsed or looked up (map.cpp chooses the index).
#pragma once

#include <optional>
#include <string_view>

namespace mxguard::maps {

enum class MapKind { Cidr, Domain, Hostname, Address, Regexp };

// "cidr", "domain", "hostname", "address", "regexp" (exactly, lower case); nullopt otherwise.
std::optional<MapKind> parseMapKind(std::string_view name);
const char* toString(MapKind kind);

}  // namespace mxguard::maps
