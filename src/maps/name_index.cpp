// name_index.cpp - keys checked and folded by domain_name.h, held in one KeyTable: the exact key
// "example.com" and the subdomain key ".example.com" are two different strings in it, so each
// lookup is a handful of hash probes into it (the subject folded once, the parents views of it).
// Must not: let a subject that is not a plausible name (".example.com", "a..b") meet a key.
#include "maps/name_index.h"

#include "config/config_error.h"
#include "maps/domain_name.h"
#include "maps/key_text.h"

namespace mxguard::maps {

void NameIndex::add(std::string_view key, uint32_t value, int line) {
  auto fail = [&](const std::string& why) { throw config::ConfigError(file_, line, "", why); };
  if (key.size() > KeyTable::kMaxKeyBytes)
    fail("key longer than " + std::to_string(KeyTable::kMaxKeyBytes) + " bytes");
  if (key.front() == '[') {
    // HELO address literals: exact keys only.
    if (!literalForm(key, scratch_))
      fail("'" + shownKey(key) + "' is not an address literal ([192.0.2.1] or [IPv6:2001:db8::1])");
  } else {
    if (key.starts_with("*."))
      fail("'" + shownKey(key) + "': no '*' wildcards; '" + shownKey(key.substr(1)) +
           "' matches every name below " + shownKey(key.substr(2)));
    bool below = key.front() == '.';
    std::string_view name = below ? key.substr(1) : key;
    std::string why;
    std::string form;
    if (!lookupForm(name, form, &why))
      fail("'" + shownKey(key) + "' is not a valid domain name: " + why);
    if (std::string problem = keyNameProblem(form); !problem.empty())
      fail("'" + shownKey(key) + "' is not a valid domain name: " + problem);
    scratch_.assign(below ? "." : "");
    scratch_ += form;
  }
  if (int first = table_.add(scratch_, key, value, line); first != 0)
    fail("duplicate key '" + shownKey(key) + "' (first at line " + std::to_string(first) + ")");
}

std::optional<IndexHit> NameIndex::hit(const KeyTable::Record* r) const {
  if (!r) return std::nullopt;
  return IndexHit{table_.written(*r), r->value, static_cast<int>(r->line)};
}

std::optional<IndexHit> NameIndex::find(std::string_view subject) const {
  if (size_t at = subject.rfind('@'); at != std::string_view::npos) {
    if (!addressDomains_) return std::nullopt;
    subject.remove_prefix(at + 1);
  }
  if (subject.empty()) return std::nullopt;
  std::string form;
  if (subject.front() == '[') {
    if (!literalForm(subject, form)) return std::nullopt;
    return hit(table_.find(form));
  }
  if (!lookupForm(subject, form) || !plausibleSubject(form)) return std::nullopt;
  if (const auto* r = table_.find(form)) return hit(r);
  std::string_view name = form;
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.', dot + 1))
    if (const auto* r = table_.find(name.substr(dot))) return hit(r);
  return std::nullopt;
}

}  // namespace mxguard::maps
