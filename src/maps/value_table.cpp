// value_table.cpp - interning by an open-addressing hash over the arena, kept only while the map
// is built.
// Must not: keep the hash table once the map is built (lookups never intern).
#include "maps/value_table.h"

#include "maps/key_table.h"

namespace mxguard::maps {

void ValueTable::grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.empty() ? 16 : old.size() * 2, 0);
  size_t mask = slots_.size() - 1;
  for (uint64_t s : old) {
    if (s == 0) continue;
    size_t i = homeSlot(static_cast<uint32_t>(s >> 32), mask);
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

uint32_t ValueTable::intern(std::string_view value, int line) {
  if ((spans_.size() + 1) * 2 > slots_.size()) grow();
  uint32_t hash = hashKey(value);
  size_t mask = slots_.size() - 1;
  size_t i = homeSlot(hash, mask);
  for (; slots_[i] != 0; i = (i + 1) & mask) {
    if (static_cast<uint32_t>(slots_[i] >> 32) != hash) continue;
    uint32_t index = static_cast<uint32_t>(slots_[i]) - 1;
    if (text(index) == value) return index;
  }
  spans_.push_back(
      {arena_.add(value), static_cast<uint32_t>(value.size()), static_cast<uint32_t>(line)});
  uint32_t index = static_cast<uint32_t>(spans_.size() - 1);
  slots_[i] = (uint64_t{hash} << 32) | (uint64_t{index} + 1);
  return index;
}

void ValueTable::freeze() {
  std::vector<uint64_t>().swap(slots_);
  spans_.shrink_to_fit();
}

size_t ValueTable::memoryBytes() const {
  return arena_.memoryBytes() + spans_.capacity() * sizeof(Span) +
         slots_.capacity() * sizeof(uint64_t);
}

}  // namespace mxguard::maps
