// sender_syntax.h - what makes a MAIL FROM address unfit to probe or to key the cache with:
// control bytes (a CR/LF would end our RCPT TO and start a command of the sender's choosing) and
// RFC 5321 4.5.3.1's size limits (local part 64, domain 255, path 256 octets).
// Must not: judge anything else about the address: the remote server is asked about the rest.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mxguard::stages {

// Why `sender` (without angle brackets) must not be probed, or nullopt when it may be.
std::optional<std::string> malformedSender(std::string_view sender);

// The sender as a reply may quote it: its first 64 octets and "..." when longer, so a hostile
// 1 KB address does not become a 1 KB reply.
std::string shownSender(const std::string& sender);

}  // namespace mxguard::stages
