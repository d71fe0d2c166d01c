// rate_limit_spec.cpp - the `limit` line's small grammar (name, then key=value words) with an
// error naming the word at fault, and the key a limit builds for a transaction.
// Must not: accept a rate or burst that is zero, negative or absurd, or a key field that does not
// exist: a typo must fail at load, not silently never limit.
#include "stages/ratelimit/rate_limit_spec.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>

#include "base/strings.h"

namespace mxguard::stages {
namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// "100", "2.5", "10K", "1M" (binary multiples, for byte counts). nullopt when not a number > 0.
std::optional<double> parseAmount(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double mult = 1;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(s.back())));
  if (last == 'K' || last == 'M' || last == 'G') {
    mult = last == 'K' ? 1024.0 : last == 'M' ? 1024.0 * 1024 : 1024.0 * 1024 * 1024;
    s.remove_suffix(1);
  }
  std::string text(s);
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v) || v <= 0)
    return std::nullopt;
  return v * mult;
}

std::optional<double> unitSeconds(std::string_view u) {
  std::string s = lower(u);
  if (s == "s" || s == "sec" || s == "second") return 1;
  if (s == "m" || s == "min" || s == "minute") return 60;
  if (s == "h" || s == "hour") return 3600;
  if (s == "d" || s == "day") return 86400;
  return std::nullopt;
}

// FNV-1a: the same on every host of a fleet (std::hash is not).
std::string stableHash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// "192.0.2.0/24" for 192.0.2.77 and 24; the bare address at full length.
std::string networkOf(const IpAddress& ip, int prefix) {
  auto bytes = ip.bytes();
  int bits = ip.isV4() ? 32 : 128;
  for (int i = prefix; i < bits; ++i) bytes[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.isV4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return prefix == bits ? std::string(buf) : std::string(buf) + "/" + std::to_string(prefix);
}

bool domainMatches(const std::string& domain, const std::string& listed) {
  return domain == listed || (domain.size() > listed.size() && domain.ends_with("." + listed));
}

const char* kFields = "client_ip, client_network, sender, sender_domain, auth_user, helo";

}  // namespace

const char* toString(Counted c) {
  switch (c) {
    case Counted::Connections:
      return "connections";
    case Counted::Messages:
      return "messages";
    case Counted::Recipients:
      return "recipients";
    case Counted::Bytes:
      return "bytes";
  }
  return "?";
}

namespace {

using Error = std::optional<std::string>;  // what is wrong with a setting; nullopt: nothing

// One `limit` line's settings, parsed word by word into `spec`; finish() checks what only the
// whole line can tell and fills in the defaults.
struct LimitParser {
  RateLimitSpec spec;
  bool haveKey = false, haveCount = false, haveRate = false, haveV4 = false, haveV6 = false;
  std::optional<double> burst, rateAmount;

  Error setting(const std::string& name, const std::string& value) {
    if (name == "key") return key(value);
    if (name == "count") return count(value);
    if (name == "rate") return rate(value);
    if (name == "burst") return burstSize(value);
    if (name == "ipv4_prefix" || name == "ipv6_prefix") return prefix(name, value);
    if (name == "exempt_clients") return exemptClients(value);
    if (name == "exempt_authenticated") return exemptAuthenticated(value);
    if (name == "exempt_sender_domains") {
      for (const auto& d : split(value, ',')) spec.exemptSenderDomains.push_back(lower(d));
      return std::nullopt;
    }
    if (name == "mode") return mode(value);
    return "unknown setting '" + name +
           "' (known: key, count, rate, burst, ipv4_prefix, ipv6_prefix, exempt_clients, "
           "exempt_authenticated, exempt_sender_domains, mode)";
  }

  Error key(const std::string& value) {
    haveKey = true;
    static const std::pair<const char*, KeyField> kNames[] = {
        {"client_ip", KeyField::ClientIp}, {"client_network", KeyField::ClientNetwork},
        {"sender", KeyField::Sender},      {"sender_domain", KeyField::SenderDomain},
        {"auth_user", KeyField::AuthUser}, {"helo", KeyField::Helo}};
    for (const auto& f : split(value, '+')) {
      std::string l = lower(f);
      auto it = std::find_if(std::begin(kNames), std::end(kNames),
                             [&](const auto& n) { return l == n.first; });
      if (it == std::end(kNames)) return "unknown key field '" + f + "' (known: " + kFields + ")";
      if (std::find(spec.key.begin(), spec.key.end(), it->second) == spec.key.end())
        spec.key.push_back(it->second);
    }
    if (spec.key.empty()) return "key= names no field (known: " + std::string(kFields) + ")";
    return std::nullopt;
  }

  Error count(const std::string& value) {
    haveCount = true;
    for (Counted c : {Counted::Connections, Counted::Messages, Counted::Recipients, Counted::Bytes})
      if (lower(value) == toString(c)) {
        spec.counted = c;
        return std::nullopt;
      }
    return "count='" + value + "': use connections, messages, recipients or bytes";
  }

  Error rate(const std::string& value) {
    haveRate = true;
    size_t slash = value.find('/');
    auto amount = slash == std::string::npos ? std::nullopt : parseAmount(value.substr(0, slash));
    auto unit = slash == std::string::npos ? std::nullopt : unitSeconds(value.substr(slash + 1));
    if (!amount || !unit)
      return "rate='" + value +
             "': write a positive number per unit, e.g. 100/h, 30/min, 10M/d (units: s, min, h, "
             "d)";
    spec.perSecond = *amount / *unit;
    rateAmount = amount;
    spec.rateText = value;
    if (spec.perSecond > 1e9) return "rate='" + value + "' is absurdly high";
    if (spec.perSecond < 1.0 / (365 * 86400.0)) return "rate='" + value + "' is absurdly low";
    return std::nullopt;
  }

  Error burstSize(const std::string& value) {
    burst = parseAmount(value);
    if (!burst || *burst < 1 || *burst != std::floor(*burst))
      return "burst='" + value + "': a whole number of at least 1";
    if (*burst > 1e12) return "burst='" + value + "' is absurdly high";
    return std::nullopt;
  }

  Error prefix(const std::string& name, const std::string& value) {
    bool v4 = name == "ipv4_prefix";
    char* end = nullptr;
    long p = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end || p < 0 || p > (v4 ? 32 : 128))
      return name + "='" + value + "': 0.." + (v4 ? "32" : "128");
    (v4 ? spec.ipv4Prefix : spec.ipv6Prefix) = static_cast<int>(p);
    (v4 ? haveV4 : haveV6) = true;
    return std::nullopt;
  }

  Error exemptClients(const std::string& value) {
    for (const auto& c : split(value, ',')) {
      auto cidr = Cidr::parse(c);
      if (!cidr) return "exempt_clients: '" + c + "' is not an address or CIDR";
      spec.exemptClients.push_back(*cidr);
    }
    return std::nullopt;
  }

  Error exemptAuthenticated(const std::string& value) {
    std::string l = lower(value);
    if (l != "yes" && l != "no") return "exempt_authenticated='" + value + "': yes or no";
    spec.exemptAuthenticated = l == "yes";
    return std::nullopt;
  }

  Error mode(const std::string& value) {
    std::string l = lower(value);
    if (l != "enforce" && l != "observe") return "mode='" + value + "': enforce or observe";
    spec.observe = l == "observe";
    return std::nullopt;
  }

  Error finish() {
    if (!haveKey) return "no key= (e.g. key=client_ip)";
    if (!haveCount) return "no count= (connections, messages, recipients or bytes)";
    if (!haveRate) return "no rate= (e.g. rate=100/h)";
    if (spec.counted == Counted::Connections)
      for (auto k : spec.key)
        if (k != KeyField::ClientIp && k != KeyField::ClientNetwork)
          return "count=connections can only be keyed by client_ip or client_network (nothing "
                 "else is known when a client connects)";
    bool network =
        std::find(spec.key.begin(), spec.key.end(), KeyField::ClientNetwork) != spec.key.end();
    if (network && !haveV4) spec.ipv4Prefix = 24;
    if (network && !haveV6) spec.ipv6Prefix = 48;
    // Without burst=, one unit's worth: rate=100/h admits 100 at once, then 100 an hour.
    spec.burst = burst ? *burst : std::max(1.0, std::ceil(*rateAmount));
    return std::nullopt;
  }
};

}  // namespace

std::optional<RateLimitSpec> parseRateLimit(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<RateLimitSpec> {
    *error = std::move(why);
    return std::nullopt;
  };
  std::istringstream in{std::string(text)};
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty())
    return fail("empty; write: NAME key=client_ip count=messages rate=100/h [burst=20]");
  LimitParser parser;
  parser.spec.name = words[0];
  for (char c : parser.spec.name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      return fail("limit name '" + parser.spec.name +
                  "' may hold only letters, digits, '_' and '-'");
  std::vector<std::string> seen;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    size_t eq = w.find('=');
    if (eq == std::string::npos || eq == 0) return fail("'" + w + "' is not a name=value setting");
    std::string name = lower(w.substr(0, eq)), value = w.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      return fail("'" + name + "' is set twice");
    seen.push_back(name);
    if (Error e = parser.setting(name, value)) return fail(std::move(*e));
  }
  if (Error e = parser.finish()) return fail(std::move(*e));
  return parser.spec;
}

std::optional<LimitKey> limitKey(const RateLimitSpec& spec, const Connection& tx,
                                 std::string* why) {
  const auto& c = tx.client;
  const std::string& sender = tx.message.sender;
  std::string senderDomain = sender.empty() ? "<>" : lower(sender.substr(sender.rfind('@') + 1));
  if (spec.exemptAuthenticated && !c.authUser.empty()) {
    *why = "authenticated client";
    return std::nullopt;
  }
  if (c.clientIp)
    for (const auto& cidr : spec.exemptClients)
      if (cidr.contains(*c.clientIp)) {
        *why = "client in exempt_clients " + cidr.toString();
        return std::nullopt;
      }
  if (tx.message.senderSeen)
    for (const auto& d : spec.exemptSenderDomains)
      if (domainMatches(senderDomain, d)) {
        *why = "sender domain in exempt_sender_domains " + d;
        return std::nullopt;
      }
  std::string value, description;
  for (auto field : spec.key) {
    std::string part, what;
    switch (field) {
      case KeyField::ClientIp:
      case KeyField::ClientNetwork: {
        if (!c.clientIp) {
          *why = "no client address";
          return std::nullopt;
        }
        part = networkOf(*c.clientIp, c.clientIp->isV4() ? spec.ipv4Prefix : spec.ipv6Prefix);
        what = part.find('/') == std::string::npos ? "client " : "client network ";
        break;
      }
      case KeyField::Sender:
        part = sender.empty() ? "<>" : lower(sender);
        what = "sender ";
        break;
      case KeyField::SenderDomain:
        part = senderDomain;
        what = "sender domain ";
        break;
      case KeyField::AuthUser:
        if (c.authUser.empty()) {
          *why = "not authenticated";
          return std::nullopt;
        }
        part = c.authUser;
        what = "user ";
        break;
      case KeyField::Helo:
        part = c.helo.empty() ? "(none)" : lower(c.helo);
        what = "HELO ";
        break;
    }
    value += (value.empty() ? "" : "|") + part;
    description += (description.empty() ? "" : ", ") + what + part;
  }
  LimitKey k;
  k.storeKey = "rl:" + spec.name + ":" + (value.size() > 200 ? "h" + stableHash(value) : value);
  k.description = description;
  return k;
}

}  // namespace mxguard::stages
