// from_domains.h - the domains of the mailboxes of an RFC5322.From field value, which DKIM
// (require_signature_from) and DMARC (RFC 7489 3.1) align with.
// Must not: judge syntax (the headers stage does) or consult DNS.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mxguard::stages {

// The domains of the mailboxes of a From field value (comments, quoted display names and group
// syntax skipped), lowercased, without a trailing dot; at most `limit` of them. A mailbox without
// a domain is skipped.
std::vector<std::string> fromDomains(std::string_view fromValue, size_t limit = 8);

}  // namespace mxguard::stages
