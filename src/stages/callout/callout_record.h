// callout_record.h - what the callout cache remembers about an address or a domain, and how it
// is written into the Store (one line of tab-separated fields, versioned by the key prefix).
// Must not: lose the remote's own reply (a cached rejection quotes it like a fresh one), or let
// a key or a value grow with what a sender or a remote server chose to send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mxguard::stages {

struct AddressRecord {
  enum class Result { Accepted, Rejected, NullSenderRefused, TempFailed } result;
  std::string host;      // MX host name
  std::string address;   // its IP
  std::string reply;     // the remote's reply, "550 5.1.1 <a@b>: ..." (already sanitised)
  std::string command;   // "RCPT TO", "MAIL FROM", ...
  int64_t probedAt = 0;  // Unix time of the probe
};

struct DomainRecord {
  bool acceptAll = false;  // a random local part was accepted: addresses are unverifiable
  std::string host;
  int64_t probedAt = 0;
};

// A cached remote reply is at most this long ("..." ends a cut one): a hostile server's 400 KB
// reply must not become 400 KB in the store per address, nor a reply of that size to our client.
constexpr size_t kMaxCachedReply = 512;
std::string boundedReply(std::string reply);

// The store key for `subject` (an address or a domain) under `prefix` ("callout:addr:"): the
// subject itself when short, else "sha256:" and its SHA-256 in hex, so no key exceeds
// prefix + 200 octets however long the name a sender made up.
std::string storeKey(const std::string& prefix, const std::string& subject);

std::string encode(const AddressRecord& r);
std::optional<AddressRecord> decodeAddress(const std::string& text);
std::string encode(const DomainRecord& r);
std::optional<DomainRecord> decodeDomain(const std::string& text);

}  // namespace mxguard::stages
