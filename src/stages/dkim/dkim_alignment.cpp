// dkim_alignment.cpp - suffix matching on label boundaries.
// Must not: allocate per call beyond the canonical name.
#include "stages/dkim/dkim_alignment.h"

#include "base/strings.h"

namespace mxguard::stages {
namespace {

bool under(std::string_view name, std::string_view parent) {
  if (name == parent) return true;
  return name.size() > parent.size() && name.substr(name.size() - parent.size()) == parent &&
         name[name.size() - parent.size() - 1] == '.';
}

}  // namespace

std::optional<std::string> coveringDomain(std::string_view fromDomain,
                                          const std::vector<std::string>& configured) {
  std::optional<std::string> best;
  for (const auto& c : configured)
    if (under(fromDomain, c) && (!best || c.size() > best->size())) best = c;
  return best;
}

bool signsFor(std::string_view d, std::string_view fromDomain, std::string_view boundary) {
  std::string dn = canonicalHostName(d);
  return !dn.empty() && under(fromDomain, dn) && under(dn, boundary);
}

}  // namespace mxguard::stages
