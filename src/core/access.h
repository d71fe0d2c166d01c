// access.h - access rules from the admin's map files ([access] in the policy): what one entry does
// to a client, HELO, sender or recipient it matches (allow, skip stages or checks, reject), and
// the table interface the Engine consults them through (src/app implements it over src/maps).
// Must not: read files or parse map syntax; the Engine sees only rules already validated at load.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip_address.h"
#include "core/reply.h"

namespace mxguard {

struct AccessRule {
  enum class Kind {
    Allow,     // skip every stage (a recipient: accepted whatever the stages said)
    Skip,      // skip the listed stages ("spf") and checks ("helo.non_fqdn")
    Reject,    // refuse with `reply` (5xx)
    Tempfail,  // refuse with `reply` (4xx)
  };
  Kind kind = Kind::Allow;
  std::vector<std::string> skip;  // Skip: stage names and stage.check names
  std::optional<Reply> reply;     // Reject, Tempfail
};

// What an entry of a map matched, for the Engine's trace and log: the rule, and where it is
// written ("clients.cidr:12: 192.0.2.0/24").
struct AccessHit {
  const AccessRule* rule = nullptr;
  std::string where;
};

// What an access map is consulted for, in the phase it becomes known.
enum class AccessSubject {
  ClientAddress,  // connect: the client's IP address
  ClientName,     // connect: the MTA's verified client name (never "unknown")
  Helo,           // HELO: the name as sent
  Sender,         // MAIL: the sender address; the null sender is looked up as "<>"
  Recipient,      // RCPT: each recipient address
};

const char* toString(AccessSubject s);  // "client", "client_name", "helo", "sender", "recipient"

// One map file as the Engine sees it. Immutable once loaded; shared by every connection.
class AccessTable {
 public:
  virtual ~AccessTable() = default;
  virtual std::optional<AccessHit> find(std::string_view subject) const = 0;
  virtual std::optional<AccessHit> findAddress(const IpAddress& address) const = 0;
};

struct AccessCheck {
  AccessSubject subject;
  std::shared_ptr<const AccessTable> table;
};

// A set of recipients named by a policy class (its `recipients` maps and patterns).
class RecipientSet {
 public:
  virtual ~RecipientSet() = default;
  // Where the recipient matched ("finance.domains:3: .finance.example.com"), or nullopt.
  virtual std::optional<std::string> match(std::string_view recipient) const = 0;
};

}  // namespace mxguard
