// value_table.h - a map's values, each distinct text stored once: a million entries that say
// "REJECT" hold one string and a million 4-byte indexes.
// Must not: change after the map is built (freeze() drops what only building needs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "maps/arena.h"

namespace mxguard::maps {

class ValueTable {
 public:
  // The index of `value`, added (with `line`, where it is first seen) if not seen before.
  uint32_t intern(std::string_view value, int line);
  std::string_view text(uint32_t index) const {
    return arena_.view(spans_[index].position, spans_[index].length);
  }
  int firstLine(uint32_t index) const { return static_cast<int>(spans_[index].line); }
  size_t size() const { return spans_.size(); }
  // Drops the interning hash table and spare capacity: lookups need neither.
  void freeze();
  size_t memoryBytes() const;

 private:
  struct Span {
    uint32_t position;
    uint32_t length;
    uint32_t line;
  };
  void grow();

  Arena arena_;
  std::vector<Span> spans_;
  std::vector<uint64_t> slots_;  // open addressing: hash << 32 | (index + 1); 0 is empty
};

}  // namespace mxguard::maps
