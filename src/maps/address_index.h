// address_index.h - address maps: "user@example.com" (that address), "@example.com" (any local
// part at exactly that domain), "user@" (that local part at any domain). A lookup of
// user@example.com tries them in that order, as Postfix's access(5) does.
// Must not: accept a key without '@' (a bare domain belongs in a domain map, where ".example.com"
// can say whether subdomains are meant).
#pragma once

#include <string>

#include "maps/key_table.h"
#include "maps/map_index.h"

namespace mxguard::maps {

class AddressIndex : public MapIndex {
 public:
  explicit AddressIndex(const std::string& file) : file_(file) {}

  void reserve(size_t expectedEntries) override { table_.reserve(expectedEntries); }
  void add(std::string_view key, uint32_t value, int line) override;
  void finish() override { table_.shrink(); }

  std::optional<IndexHit> find(std::string_view subject) const override;
  size_t size() const override { return table_.size(); }
  size_t memoryBytes() const override { return table_.memoryBytes(); }

 private:
  std::optional<IndexHit> hit(const KeyTable::Record* r) const;

  const std::string& file_;
  KeyTable table_;
  std::string scratch_;  // building only
  std::string domain_;   // building only
};

}  // namespace mxguard::maps
