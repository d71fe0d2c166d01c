// map_index.h - what Map asks of the index of each kind: built entry by entry while the file is
// read, then only searched, from any number of threads at once.
// Must not: keep anything mutable after finish() (no caches: lookups run concurrently).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/ip_address.h"

namespace mxguard::maps {

struct IndexHit {
  std::string_view key;  // as written in the file
  uint32_t value;        // into the map's ValueTable
  int line;
};

class MapIndex {
 public:
  virtual ~MapIndex() = default;

  // Building. `expectedEntries` is an estimate (the file's line count). add() throws
  // config::ConfigError naming the line for a bad or duplicate key.
  virtual void reserve(size_t expectedEntries) = 0;
  virtual void add(std::string_view key, uint32_t value, int line) = 0;
  virtual void finish() {}

  // Searching.
  virtual std::optional<IndexHit> find(std::string_view subject) const = 0;
  virtual std::optional<IndexHit> findAddress(const IpAddress&) const { return std::nullopt; }
  virtual size_t size() const = 0;
  virtual size_t memoryBytes() const = 0;
};

}  // namespace mxguard::maps
