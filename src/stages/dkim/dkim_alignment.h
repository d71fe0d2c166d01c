// dkim_alignment.h - which signing domains count for a sender domain: the RFC 5322.From domain
// (what DMARC, RFC 7489 3.1, aligns with) and relaxed alignment kept inside a configured domain.
// Must not: consult the Public Suffix List or DNS; the configured domain is the boundary.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxguard::stages {

// The domains of the mailboxes of a From field value (comments, quoted display names and group
// syntax skipped), lowercased, without a trailing dot; at most `limit` of them.
std::vector<std::string> fromDomains(std::string_view fromValue, size_t limit = 8);

// The configured domain that `fromDomain` equals or lies under, if any (the most specific one).
std::optional<std::string> coveringDomain(std::string_view fromDomain,
                                          const std::vector<std::string>& configured);

// A signature by d= counts for `fromDomain` when d= is fromDomain or a parent of it (relaxed
// alignment) and is still `boundary` or under it, so d=com can never speak for example.com.
bool signsFor(std::string_view d, std::string_view fromDomain, std::string_view boundary);

}  // namespace mxguard::stages
