// map_kind.cpp - the one table of kind names, read both ways.
// Must not: accept a spelling the table does not list (a policy's typo must fail at load).
#include "maps/map_kind.h"

namespace mxguard::maps {
namespace {

struct Named {
  MapKind kind;
  const char* name;
};

constexpr Named kKinds[] = {
    {MapKind::Cidr, "cidr"},       {MapKind::Domain, "domain"}, {MapKind::Hostname, "hostname"},
    {MapKind::Address, "address"}, {MapKind::Regexp, "regexp"},
};

}  // namespace

std::optional<MapKind> parseMapKind(std::string_view name) {
  for (const auto& k : kKinds)
    if (name == k.name) return k.kind;
  return std::nullopt;
}

const char* toString(MapKind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return k.name;
  return "unknown";
}

}  // namespace mxguard::maps
