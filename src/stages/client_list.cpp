// client_list.cpp - a linear scan: these lists hold a handful of hosts (large lists belong in
// the map files of the policy classes).
// Must not: match a name suffix inside a label ("evilexample.net" is not under ".example.net").
#include "stages/client_list.h"

#include "base/strings.h"
#include "stages/host_name_syntax.h"

namespace mxguard::stages {

std::optional<ClientList> ClientList::parse(const std::vector<std::string>& entries,
                                            std::string* error) {
  ClientList list;
  for (const auto& e : entries) {
    if (auto cidr = Cidr::parse(e)) {
      list.cidrs_.push_back({*cidr, e});
      continue;
    }
    std::string name = canonicalHostName(e[0] == '.' ? e.substr(1) : e);
    if (name.empty() || name.find('.') == std::string::npos || hostNameProblem(name)) {
      *error = "'" + e +
               "' is neither an address/CIDR nor a host name (use 192.0.2.0/24, "
               "lists.example.org or .example.org)";
      return std::nullopt;
    }
    list.names_.push_back(e[0] == '.' ? "." + name : name);
  }
  return list;
}

std::optional<std::string> ClientList::match(const Client& client) const {
  if (client.clientIp)
    for (const auto& [cidr, text] : cidrs_)
      if (cidr.contains(*client.clientIp)) return text;
  if (client.clientName.empty() || client.clientName == "unknown") return std::nullopt;
  std::string name = canonicalHostName(client.clientName);
  for (const auto& n : names_) {
    if (n[0] != '.'
            ? name == n
            : name.size() > n.size() && name.compare(name.size() - n.size(), n.size(), n) == 0)
      return n;
  }
  return std::nullopt;
}

}  // namespace mxguard::stages
