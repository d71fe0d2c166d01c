// arena.cpp - a position is block << 16 | offset, so it fits the 32-bit fields of the records
// (65,536 blocks of at most 64 KiB: 4 GiB, four times the largest map file).
// Must not: split one add() over two blocks (a key and its written form are read as one run).
#include "maps/arena.h"

#include <cstring>
#include <stdexcept>

namespace mxguard::maps {

uint32_t Arena::add(std::string_view a, std::string_view b) {
  size_t need = a.size() + b.size();
  if (need == 0) return 0;  // view() answers any empty text without a block
  if (used_ + need > capacity_ || blocks_.empty()) {
    if (blocks_.size() >= 65536) throw std::length_error("map text over 4 GiB");
    size_t size = capacity_ == 0 ? 1024 : std::min(capacity_ * 2, kMaxBlock);
    if (need > size) size = need;  // its own block: at offset 0, any length
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    allocated_ += size;
    capacity_ = size;
    used_ = 0;
  }
  char* at = blocks_.back().get() + used_;
  if (!a.empty()) std::memcpy(at, a.data(), a.size());
  if (!b.empty()) std::memcpy(at + a.size(), b.data(), b.size());
  uint32_t position = static_cast<uint32_t>(((blocks_.size() - 1) << 16) | used_);
  used_ += need;
  return position;
}

}  // namespace mxguard::maps
