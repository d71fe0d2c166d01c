// callout_record.cpp - tab-separated fields; tabs and newlines cannot occur in sanitised replies.
// Must not: trust what it reads back: a malformed record is treated as absent.
#include "stages/callout/callout_record.h"

#include <vector>

namespace mxguard::stages {
namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t tab = s.find('\t', start);
    out.push_back(s.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

std::string clean(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

bool toInt(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string encode(const AddressRecord& r) {
  static const char* names[] = {"accepted", "rejected", "null_sender_refused", "tempfailed"};
  return std::string("a1\t") + names[static_cast<int>(r.result)] + "\t" + clean(r.host) + "\t" +
         clean(r.address) + "\t" + clean(r.command) + "\t" + std::to_string(r.probedAt) + "\t" +
         clean(r.reply);
}

std::optional<AddressRecord> decodeAddress(const std::string& text) {
  auto f = split(text);
  if (f.size() != 7 || f[0] != "a1") return std::nullopt;
  AddressRecord r;
  if (f[1] == "accepted")
    r.result = AddressRecord::Result::Accepted;
  else if (f[1] == "rejected")
    r.result = AddressRecord::Result::Rejected;
  else if (f[1] == "null_sender_refused")
    r.result = AddressRecord::Result::NullSenderRefused;
  else if (f[1] == "tempfailed")
    r.result = AddressRecord::Result::TempFailed;
  else
    return std::nullopt;
  r.host = f[2];
  r.address = f[3];
  r.command = f[4];
  if (!toInt(f[5], &r.probedAt)) return std::nullopt;
  r.reply = f[6];
  return r;
}

std::string encode(const DomainRecord& r) {
  return std::string("d1\t") + (r.acceptAll ? "accept_all" : "verifies") + "\t" + clean(r.host) +
         "\t" + std::to_string(r.probedAt);
}

std::optional<DomainRecord> decodeDomain(const std::string& text) {
  auto f = split(text);
  if (f.size() != 4 || f[0] != "d1" || (f[1] != "accept_all" && f[1] != "verifies"))
    return std::nullopt;
  DomainRecord r;
  r.acceptAll = f[1] == "accept_all";
  r.host = f[2];
  if (!toInt(f[3], &r.probedAt)) return std::nullopt;
  return r;
}

}  // namespace mxguard::stages
