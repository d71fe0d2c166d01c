// key_table.h - exact-match keys of a map (normalised text) with the key as written, the value's
// index and the line: the text in an Arena, 16-byte records in file order, an open-addressing
// hash of the records. A million 25-byte keys cost about 60 MB, with no allocation per key.
// Must not: normalise (the caller gives keys and subjects in one form), or change once built.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "maps/arena.h"

namespace mxguard::maps {

class KeyTable {
 public:
  static constexpr size_t kMaxKeyBytes = 1024;

  struct Record {
    uint32_t position;       // of the normalised key in the arena; the written one follows it
    uint16_t length;         // of the normalised key
    uint16_t writtenLength;  // 0: written as normalised
    uint32_t value;
    uint32_t line;
  };

  // Room for `entries` keys without rehashing (an estimate: the file's line count).
  void reserve(size_t entries);
  // Adds `key` (both texts at most kMaxKeyBytes, which the caller checks); returns 0, or the
  // line of the equal key already present (then nothing is added).
  int add(std::string_view key, std::string_view written, uint32_t value, int line);
  const Record* find(std::string_view key) const;
  const Record& record(size_t index) const { return records_[index]; }
  std::string_view key(const Record& r) const { return arena_.view(r.position, r.length); }
  std::string_view written(const Record& r) const {
    return r.writtenLength == 0 ? key(r) : arena_.view(r.position + r.length, r.writtenLength);
  }
  size_t size() const { return records_.size(); }
  // Drops spare capacity of the records (when the estimate given to reserve() was high).
  void shrink();
  size_t memoryBytes() const;

 private:
  void rehash(size_t slots);
  void place(uint32_t hash, uint32_t index);

  Arena arena_;
  std::vector<Record> records_;
  std::vector<uint64_t> slots_;  // hash << 32 | (record index + 1); 0 is empty
};

// The 32-bit hash both tables use, and the slot a hash starts probing at (Fibonacci hashing:
// the high bits of the product, so similar keys spread over the table).
uint32_t hashKey(std::string_view key);
inline size_t homeSlot(uint32_t hash, size_t mask) {
  return static_cast<size_t>((uint64_t{hash} * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

}  // namespace mxguard::maps
