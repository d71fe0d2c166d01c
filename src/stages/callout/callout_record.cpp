// callout_record.cpp - tab-separated fields; tabs and newlines cannot occur in sanitised replies.
// Must not: trust what it reads back: a malformed record is treated as absent.
#include "stages/callout/callout_record.h"

#include <openssl/sha.h>

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

constexpr size_t kMaxPlainSubject = 200;

}  // namespace

std::string boundedReply(std::string reply) {
  if (reply.size() > kMaxCachedReply) reply = reply.substr(0, kMaxCachedReply - 3) + "...";
  return reply;
}

std::string storeKey(const std::string& prefix, const std::string& subject) {
  // A subject that looks like a hashed one is hashed too, so none can pose as another's hash.
  if (subject.size() <= kMaxPlainSubject && subject.rfind("sha256:", 0) != 0)
    return prefix + subject;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(subject.data()), subject.size(), digest);
  static const char* kHex = "0123456789abcdef";
  std::string key = prefix + "sha256:";
  for (unsigned char b : digest) {
    key += kHex[b >> 4];
    key += kHex[b & 0xf];
  }
  return key;
}

std::string encode(const AddressRecord& r) {
  static const char* names[] = {"accepted", "rejected", "null_sender_refused", "tempfailed"};
  return std::string("a1\t") + names[static_cast<int>(r.result)] + "\t" + clean(r.host) + "\t" +
         clean(r.address) + "\t" + clean(r.command) + "\t" + std::to_string(r.probedAt) + "\t" +
         clean(boundedReply(r.reply));
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
  r.reply = boundedReply(f[6]);  // written by an older version, or by someone else
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
