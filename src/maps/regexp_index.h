// regexp_index.h - regexp maps: "/pattern/flags" keys (flag i: case-insensitive), RE2 syntax,
// the first pattern in file order that matches anywhere in the subject wins (anchor with ^ $).
// All patterns run as one RE2::Set, one pass over the subject whatever their number.
// Must not: use a backtracking engine (RE2 is linear in the subject), or let one map's automata
// grow past its memory bound.
#pragma once

#include <memory>
#include <string>

#include "maps/key_table.h"
#include "maps/map_index.h"

namespace mxguard::maps {

class RegexpIndex : public MapIndex {
 public:
  // RE2's bound for the set's program and its DFA cache, and for each pattern's own.
  static constexpr int64_t kSetMaxMem = int64_t(8) << 20;
  static constexpr int64_t kPatternMaxMem = int64_t(1) << 20;

  explicit RegexpIndex(const std::string& file);
  ~RegexpIndex() override;

  void reserve(size_t) override {}
  void add(std::string_view key, uint32_t value, int line) override;
  void finish() override;

  std::optional<IndexHit> find(std::string_view subject) const override;
  size_t size() const override { return keys_.size(); }
  size_t memoryBytes() const override;

 private:
  struct Compiled;  // RE2 objects, kept out of this header

  const std::string& file_;
  KeyTable keys_;  // "/pattern/flags" as written, in file order; finds duplicates
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace mxguard::maps
