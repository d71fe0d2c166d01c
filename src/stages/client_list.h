// client_list.h - a list of clients a stage treats apart (dmarc's trusted forwarders, greylist's
// exemptions): addresses or CIDRs, host names, ".example.net" for every name under it. Names
// match the MTA's verified client name only (Postfix {client_name}), never the HELO.
// Must not: look anything up; an unverified name ("unknown") matches no name entry.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/connection.h"
#include "core/ip_address.h"

namespace mxguard::stages {

class ClientList {
 public:
  // nullopt and `error` for an entry that is neither an address/CIDR nor a host name.
  static std::optional<ClientList> parse(const std::vector<std::string>& entries,
                                         std::string* error);
  // The entry the client matches ("192.0.2.0/24", ".lists.example.org"), if any.
  std::optional<std::string> match(const Client& client) const;
  bool empty() const { return cidrs_.empty() && names_.empty(); }

 private:
  std::vector<std::pair<Cidr, std::string>> cidrs_;
  std::vector<std::string> names_;  // lowercase; a leading '.' matches names under it
};

}  // namespace mxguard::stages
