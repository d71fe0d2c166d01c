// dkim_alignment.h - which signing domains count for a sender domain (the From domain, see
// stages/from_domains.h): relaxed alignment kept inside a configured domain.
// Must not: consult the Public Suffix List or DNS; the configured domain is the boundary.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/from_domains.h"

namespace mxguard::stages {

// The configured domain that `fromDomain` equals or lies under, if any (the most specific one).
std::optional<std::string> coveringDomain(std::string_view fromDomain,
                                          const std::vector<std::string>& configured);

// A signature by d= counts for `fromDomain` when d= is fromDomain or a parent of it (relaxed
// alignment) and is still `boundary` or under it, so d=com can never speak for example.com.
bool signsFor(std::string_view d, std::string_view fromDomain, std::string_view boundary);

}  // namespace mxguard::stages
