// callout_record.h - what the callout cache remembers about an address or a domain, and how it
// is written into the Store (one line of tab-separated fields, versioned by the key prefix).
// Must not: lose the remote's own reply: a cached rejection quotes it like a fresh one.
#pragma once

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

std::string encode(const AddressRecord& r);
std::optional<AddressRecord> decodeAddress(const std::string& text);
std::string encode(const DomainRecord& r);
std::optional<DomainRecord> decodeDomain(const std::string& text);

}  // namespace mxguard::stages
