// name_index.h - domain and hostname maps: "example.com" matches that name, ".example.com" every
// name below it (not itself), as Postfix with parent_domain_matches_subdomains empty. A lookup
// tries the name, then ".parent" from the closest parent outward.
// Must not: match a hostname subject holding '@' (that is an address, not a HELO or client name).
#pragma once

#include <string>

#include "maps/key_table.h"
#include "maps/map_index.h"

namespace mxguard::maps {

class NameIndex : public MapIndex {
 public:
  // addressDomains: a subject "user@example.com" is looked up by its domain (domain maps); when
  // false such a subject never matches (hostname maps).
  NameIndex(const std::string& file, bool addressDomains)
      : file_(file), addressDomains_(addressDomains) {}

  void reserve(size_t expectedEntries) override { table_.reserve(expectedEntries); }
  void add(std::string_view key, uint32_t value, int line) override;
  void finish() override { table_.shrink(); }

  std::optional<IndexHit> find(std::string_view subject) const override;
  size_t size() const override { return table_.size(); }
  size_t memoryBytes() const override { return table_.memoryBytes(); }

 private:
  std::optional<IndexHit> hit(const KeyTable::Record* r) const;

  const std::string& file_;
  bool addressDomains_;
  KeyTable table_;
  std::string scratch_;  // building only
};

}  // namespace mxguard::maps
