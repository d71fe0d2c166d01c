// rate_limit_spec.h - one named limit of the ratelimit stage, parsed from a policy line such as
//   limit = mail_per_ip key=client_ip count=messages rate=100/h burst=20
// and the key it builds for a transaction ("client 192.0.2.1", "sender domain example.org").
// Must not: touch the Store or decide anything (RateLimitStage does).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/connection.h"
#include "core/ip_address.h"

namespace mxguard::stages {

enum class KeyField { ClientIp, ClientNetwork, Sender, SenderDomain, AuthUser, Helo };
enum class Counted { Connections, Messages, Recipients, Bytes };

struct RateLimitSpec {
  std::string name;
  std::vector<KeyField> key;  // combined in this order
  Counted counted = Counted::Messages;
  double perSecond = 0;  // refill rate
  double burst = 0;      // bucket capacity
  std::string rateText;  // as written, for replies: "100/h"
  int ipv4Prefix = 32, ipv6Prefix = 64;
  std::vector<Cidr> exemptClients;
  bool exemptAuthenticated = true;
  std::vector<std::string> exemptSenderDomains;  // lower case; subdomains match too
  bool observe = false;                          // count and log, never refuse
};

// Parses the value of one `limit` option; nullopt and *error (naming the bad word) on failure.
std::optional<RateLimitSpec> parseRateLimit(std::string_view text, std::string* error);

struct LimitKey {
  std::string storeKey;     // "rl:mail_per_ip:192.0.2.1" (long values hashed, stable across hosts)
  std::string description;  // "client 192.0.2.1", "sender domain example.org"
};

// The key of `spec` for this transaction; nullopt when the limit does not apply (a field is
// unknown, e.g. no authenticated user, or an exemption matches; *why says which).
std::optional<LimitKey> limitKey(const RateLimitSpec& spec, const Connection& tx, std::string* why);

const char* toString(Counted c);  // "connections", "messages", "recipients", "bytes"

}  // namespace mxguard::stages
