// greylist_triplet.cpp - masking by bytes (no string round trip through inet_pton), tag removal
// by the published formats only: an address that merely contains '=' is left as it is.
// Must not: drop anything that tells two senders apart (only tags that vary per message).
#include "stages/greylist/greylist_triplet.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

#include "base/strings.h"

namespace mxguard::stages {
namespace {

std::vector<std::string_view> splitOn(std::string_view s, char c) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == c) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

// The local part without a BATV or SRS tag; unchanged when it has none.
std::string untagged(const std::string& local) {
  auto parts = splitOn(local, '=');
  if (parts.size() >= 3 && (parts[0] == "prvs" || parts[0] == "msprvs1"))
    return std::string(parts.back());  // prvs=TAG=user: the user is last
  if (parts.size() >= 4 && parts[0] == "btv1") return std::string(parts.back());
  // SRS0=HASH=TT=domain=user (user may itself hold '=')
  if (parts.size() >= 5 && parts[0] == "srs0") {
    std::string out = "srs0";
    for (size_t i = 3; i < parts.size(); ++i) out.append("=").append(parts[i]);
    return out;
  }
  // SRS1=HASH=forwarder==HASH=TT=domain=user: keep the forwarder and what SRS0 would keep.
  if (parts.size() >= 8 && parts[0] == "srs1" && parts[3].empty()) {
    std::string out = "srs1=" + std::string(parts[2]) + "=";
    for (size_t i = 6; i < parts.size(); ++i) out.append("=").append(parts[i]);
    return out;
  }
  return local;
}

}  // namespace

std::string clientNetwork(const IpAddress& ip, int ipv4Prefix, int ipv6Prefix) {
  auto bytes = ip.bytes();
  int prefix = ip.isV4() ? ipv4Prefix : ipv6Prefix;
  size_t total = ip.isV4() ? 4 : 16;
  for (size_t i = 0; i < total; ++i) {
    int keep = std::clamp(prefix - static_cast<int>(i) * 8, 0, 8);
    bytes[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.isV4() ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix);
}

std::string normalizeSender(std::string_view sender, bool stripTags) {
  if (sender.empty()) return "<>";
  std::string s = lower(sender);
  if (!stripTags) return s;
  size_t at = s.rfind('@');
  if (at == std::string::npos) return untagged(s);
  return untagged(s.substr(0, at)) + s.substr(at);
}

std::string tripletKey(const GreylistTriplet& t) {
  return "gl:t:" + t.network + "|" + t.sender.substr(0, 512) + "|" + t.recipient.substr(0, 512);
}
std::string networkKey(const std::string& network) {
  return "gl:n:" + network;
}
std::string autoAllowKey(const std::string& network) {
  return "gl:a:" + network;
}

}  // namespace mxguard::stages
