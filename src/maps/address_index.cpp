// address_index.cpp - the three key forms are three shapes of one string ("user@domain",
// "@domain", "user@"), so one KeyTable holds them all and a lookup probes it at most three times.
// Local parts fold ASCII case (Postfix folds case in access maps); domains go through
// domain_name.h like every other domain key.
// Must not: let an unconvertible domain hide a local-part entry ("user@" still applies to it).
#include "maps/address_index.h"

#include "config/config_error.h"
#include "maps/domain_name.h"
#include "maps/key_text.h"

namespace mxguard::maps {
namespace {

void appendLowerAscii(std::string& out, std::string_view s) {
  for (char c : s) out += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

void AddressIndex::add(std::string_view key, uint32_t value, int line) {
  auto fail = [&](const std::string& why) { throw config::ConfigError(file_, line, "", why); };
  if (key.size() > KeyTable::kMaxKeyBytes)
    fail("key longer than " + std::to_string(KeyTable::kMaxKeyBytes) + " bytes");
  size_t at = key.rfind('@');
  if (at == std::string_view::npos)
    fail("'" + shownKey(key) +
         "' has no '@': use user@domain, user@ or @domain; for a domain and its subdomains use a "
         "domain: map");
  std::string_view local = key.substr(0, at);
  std::string_view domain = key.substr(at + 1);
  if (local.empty() && domain.empty())
    fail("'@' alone matches nothing: use user@domain, user@ or @domain");
  for (unsigned char c : local)
    if (c < 0x20 || c == 0x7f)
      fail("control character in the local part of '" + shownKey(key) + "'");
  domain_.clear();
  if (!domain.empty()) {
    std::string why;
    if (domain.front() == '[') {
      if (!literalForm(domain, domain_))
        fail("'" + shownKey(key) + "': '" + shownKey(domain) +
             "' is not an address literal ([192.0.2.1] or [IPv6:2001:db8::1])");
    } else if (domain.front() == '.') {
      fail("'" + shownKey(key) +
           "': an address map matches a domain exactly; for a domain and its subdomains use a "
           "domain: map");
    } else if (!lookupForm(domain, domain_, &why)) {
      fail("'" + shownKey(key) + "': '" + shownKey(domain) +
           "' is not a valid domain name: " + why);
    } else if (std::string problem = keyNameProblem(domain_); !problem.empty()) {
      fail("'" + shownKey(key) + "': '" + shownKey(domain) +
           "' is not a valid domain name: " + problem);
    }
  }
  scratch_.clear();
  appendLowerAscii(scratch_, local);
  scratch_ += '@';
  scratch_ += domain_;
  if (int first = table_.add(scratch_, key, value, line); first != 0)
    fail("duplicate key '" + shownKey(key) + "' (first at line " + std::to_string(first) + ")");
}

std::optional<IndexHit> AddressIndex::hit(const KeyTable::Record* r) const {
  if (!r) return std::nullopt;
  return IndexHit{table_.written(*r), r->value, static_cast<int>(r->line)};
}

std::optional<IndexHit> AddressIndex::find(std::string_view subject) const {
  // A subject without '@' is a bare local part ("postmaster", RFC 5321 4.5.1): only "user@"
  // entries can speak for it.
  size_t at = subject.rfind('@');
  std::string_view local = subject.substr(0, at);
  std::string key;
  key.reserve(subject.size() + 1);
  appendLowerAscii(key, local);
  key += '@';
  size_t localEnd = key.size();
  if (at != std::string_view::npos && at + 1 < subject.size()) {
    std::string_view domain = subject.substr(at + 1);
    std::string form;
    bool ok = domain.front() == '[' ? literalForm(domain, form)
                                    : lookupForm(domain, form) && plausibleSubject(form);
    if (ok) {
      key += form;
      if (!local.empty())
        if (const auto* r = table_.find(key)) return hit(r);
      if (const auto* r = table_.find(std::string_view(key).substr(localEnd - 1))) return hit(r);
    }
  }
  if (local.empty()) return std::nullopt;
  return hit(table_.find(std::string_view(key).substr(0, localEnd)));
}

}  // namespace mxguard::maps
