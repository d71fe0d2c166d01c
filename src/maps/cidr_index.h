// cidr_index.h - a cidr map: IPv4 and IPv6 networks, the most specific network holding an
// address wins. Built as sorted, non-overlapping intervals per family, each carrying the entry
// of the most specific network over it, so a lookup is one binary search.
// Must not: accept a network with host bits set (192.0.2.1/24 is a typo for one of two things).
#pragma once

#include <string>
#include <vector>

#include "maps/arena.h"
#include "maps/map_index.h"

namespace mxguard::maps {

class CidrIndex : public MapIndex {
 public:
  explicit CidrIndex(const std::string& file) : file_(file) {}

  void reserve(size_t expectedEntries) override;
  void add(std::string_view key, uint32_t value, int line) override;
  void finish() override;

  std::optional<IndexHit> find(std::string_view subject) const override;
  std::optional<IndexHit> findAddress(const IpAddress& ip) const override;
  size_t size() const override { return entries_.size(); }
  size_t memoryBytes() const override;

  using U128 = unsigned __int128;

 private:
  struct Entry {
    uint32_t keyPosition;  // in keys_
    uint32_t keyLength;
    uint32_t value;
    uint32_t line;
  };
  // Building only: one vector for both families (reserved once from the line count), IPv4
  // networks in the low 32 bits of `start`.
  struct Network {
    U128 start;
    uint32_t entry;
    uint8_t prefix;
    bool v6;
  };
  template <class U>
  struct Intervals {
    std::vector<U> starts;          // ascending; starts[0] == 0
    std::vector<uint32_t> entries;  // the entry over [starts[i], starts[i+1]), or kNone
  };
  static constexpr uint32_t kNone = UINT32_MAX;

  template <class U>
  void flatten(const Network* begin, const Network* end, int bits, Intervals<U>& out) const;
  template <class U>
  std::optional<IndexHit> search(const Intervals<U>& in, U address) const;
  IndexHit hit(uint32_t entry) const;

  const std::string& file_;
  Arena keys_;  // every key as written
  std::vector<Entry> entries_;
  std::vector<Network> networks_;
  Intervals<uint32_t> v4_;
  Intervals<U128> v6_;
};

}  // namespace mxguard::maps
