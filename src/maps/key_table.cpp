// key_table.cpp - linear probing at a load factor of at most one half, each slot carrying the
// key's 32-bit hash so that a probe compares key bytes only when the hashes are equal.
// Must not: compare key bytes when the stored hashes differ (a miss costs one probe, not a
// memcmp per colliding slot).
#include "maps/key_table.h"

#include <functional>
#include <stdexcept>

namespace mxguard::maps {

uint32_t hashKey(std::string_view key) {
  uint64_t h = std::hash<std::string_view>{}(key);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

void KeyTable::reserve(size_t entries) {
  records_.reserve(entries);
  size_t want = 16;
  while (want < entries * 2) want *= 2;
  if (want > slots_.size()) rehash(want);
}

void KeyTable::rehash(size_t count) {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(count, 0);
  for (uint64_t s : old)
    if (s != 0) place(static_cast<uint32_t>(s >> 32), static_cast<uint32_t>(s) - 1);
}

void KeyTable::place(uint32_t hash, uint32_t index) {
  size_t mask = slots_.size() - 1;
  size_t i = homeSlot(hash, mask);
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = (uint64_t{hash} << 32) | (uint64_t{index} + 1);
}

int KeyTable::add(std::string_view key, std::string_view written, uint32_t value, int line) {
  if (key.size() > kMaxKeyBytes || written.size() > kMaxKeyBytes)
    throw std::length_error("map key longer than KeyTable::kMaxKeyBytes");
  if ((records_.size() + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
  uint32_t hash = hashKey(key);
  size_t mask = slots_.size() - 1;
  for (size_t i = homeSlot(hash, mask); slots_[i] != 0; i = (i + 1) & mask) {
    if (static_cast<uint32_t>(slots_[i] >> 32) != hash) continue;
    const Record& r = records_[static_cast<uint32_t>(slots_[i]) - 1];
    if (this->key(r) == key) return static_cast<int>(r.line);
  }
  bool same = written == key;
  Record r{arena_.add(key, same ? std::string_view() : written), static_cast<uint16_t>(key.size()),
           static_cast<uint16_t>(same ? 0 : written.size()), value, static_cast<uint32_t>(line)};
  records_.push_back(r);
  place(hash, static_cast<uint32_t>(records_.size() - 1));
  return 0;
}

const KeyTable::Record* KeyTable::find(std::string_view key) const {
  if (slots_.empty()) return nullptr;
  uint32_t hash = hashKey(key);
  size_t mask = slots_.size() - 1;
  for (size_t i = homeSlot(hash, mask); slots_[i] != 0; i = (i + 1) & mask) {
    if (static_cast<uint32_t>(slots_[i] >> 32) != hash) continue;
    const Record& r = records_[static_cast<uint32_t>(slots_[i]) - 1];
    if (r.length == key.size() && this->key(r) == key) return &r;
  }
  return nullptr;
}

void KeyTable::shrink() {
  // Only when the estimate was far off: shrinking copies, and leaves the old block freed.
  if (records_.capacity() > records_.size() + records_.size() / 8 + 64) records_.shrink_to_fit();
}

size_t KeyTable::memoryBytes() const {
  return arena_.memoryBytes() + records_.capacity() * sizeof(Record) +
         slots_.capacity() * sizeof(uint64_t);
}

}  // namespace mxguard::maps
