// arena.h - the text of a map's keys and values, appended into blocks that never move: no copy
// at growth and no shrink at the end, so loading a big map leaves no freed megabytes behind in
// the allocator. Blocks grow from 1 KiB to 64 KiB (a small map stays small).
// Must not: hand out a position a later append can invalidate (blocks are never reallocated).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace mxguard::maps {

class Arena {
 public:
  // Stores `a` then `b` back to back in one block and returns where `a` starts; `b` is then at
  // the returned position + a.size(). Text over 64 KiB gets a block of its own.
  uint32_t add(std::string_view a, std::string_view b = {});
  std::string_view view(uint32_t position, size_t length) const {
    if (length == 0) return std::string_view();
    return std::string_view(blocks_[position >> 16].get() + (position & 0xffff), length);
  }
  size_t memoryBytes() const { return allocated_ + blocks_.capacity() * sizeof(blocks_[0]); }

 private:
  static constexpr size_t kMaxBlock = 65536;

  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t used_ = 0;      // in the last block
  size_t capacity_ = 0;  // of the last block
  size_t allocated_ = 0;
};

}  // namespace mxguard::maps
