// cidr_index.cpp - keys parsed with inet_pton on a stack buffer, networks sorted once and swept
// with a stack of open networks (CIDR blocks nest or are disjoint, never overlap partly), so a
// million networks load in a fraction of a second.
// Must not: allocate per key beyond the arena and the entry vectors, or leave an address family
// out of a lookup's reach (IPv4-mapped IPv6 keys are folded to IPv4, as IpAddress folds clients).
#include "maps/cidr_index.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "config/config_error.h"
#include "maps/key_text.h"

namespace mxguard::maps {
namespace {

template <class U>
U hostMask(int bits, int prefix) {
  if (prefix == 0) return bits == 32 ? U(UINT32_MAX) : ~U(0);
  return prefix >= bits ? U(0) : (U(1) << (bits - prefix)) - 1;
}

template <class U>
U fromBytes(const uint8_t* bytes, int count) {
  U v = 0;
  for (int i = 0; i < count; ++i) v = (v << 8) | bytes[i];
  return v;
}

std::string networkText(const uint8_t* bytes, bool v4, int prefix) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, bytes, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

}  // namespace

void CidrIndex::reserve(size_t expectedEntries) {
  entries_.reserve(expectedEntries);
  networks_.reserve(expectedEntries);
}

void CidrIndex::add(std::string_view key, uint32_t value, int line) {
  auto fail = [&](const std::string& why) { throw config::ConfigError(file_, line, "", why); };
  size_t slash = key.find('/');
  std::string_view address = key.substr(0, slash);
  char buf[INET6_ADDRSTRLEN + 1];
  if (address.empty() || address.size() >= sizeof buf)
    fail("'" + shownKey(key) + "' is not a network (192.0.2.0/24, 2001:db8::/32) or an address");
  std::memcpy(buf, address.data(), address.size());
  buf[address.size()] = '\0';
  uint8_t bytes[16] = {};
  bool v4 = address.find(':') == std::string_view::npos;
  if (inet_pton(v4 ? AF_INET : AF_INET6, buf, bytes) != 1)
    fail("'" + shownKey(key) + "' is not a network (192.0.2.0/24, 2001:db8::/32) or an address");
  int bits = v4 ? 32 : 128;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    std::string_view digits = key.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || digits.size() > 3 || ec != std::errc() ||
        end != digits.data() + digits.size() || digits.front() == '-')
      fail("'" + shownKey(key) + "': the prefix length after '/' must be a number from 0 to " +
           std::to_string(bits));
    if (prefix > bits)
      fail("'" + shownKey(key) + "': prefix length " + std::to_string(prefix) + " is longer than " +
           std::to_string(bits) + " bits");
  }
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!v4 && prefix >= 96 && std::memcmp(bytes, kMapped, 12) == 0) {
    // ::ffff:192.0.2.0/120 is the IPv4 network clients on a dual-stack socket come from, and
    // IpAddress hands those clients over as IPv4.
    std::memmove(bytes, bytes + 12, 4);
    std::memset(bytes + 4, 0, 12);
    v4 = true;
    bits = 32;
    prefix -= 96;
  }
  uint32_t entry = static_cast<uint32_t>(entries_.size());
  if (v4) {
    uint32_t start = fromBytes<uint32_t>(bytes, 4);
    uint32_t host = hostMask<uint32_t>(32, prefix);
    if (start & host) {
      uint32_t net = start & ~host;
      uint8_t netBytes[4] = {uint8_t(net >> 24), uint8_t(net >> 16), uint8_t(net >> 8),
                             uint8_t(net)};
      fail("'" + shownKey(key) + "' has host bits set: the network is " +
           networkText(netBytes, true, prefix) + " (for the one address, leave out the '/" +
           std::to_string(prefix) + "')");
    }
    networks_.push_back({start, entry, static_cast<uint8_t>(prefix), false});
  } else {
    U128 start = fromBytes<U128>(bytes, 16);
    U128 host = hostMask<U128>(128, prefix);
    if (start & host) {
      U128 net = start & ~host;
      uint8_t netBytes[16];
      for (int i = 15; i >= 0; --i, net >>= 8) netBytes[i] = static_cast<uint8_t>(net);
      fail("'" + shownKey(key) + "' has host bits set: the network is " +
           networkText(netBytes, false, prefix) + " (for the one address, leave out the '/" +
           std::to_string(prefix) + "')");
    }
    networks_.push_back({start, entry, static_cast<uint8_t>(prefix), true});
  }
  entries_.push_back(
      {keys_.add(key), static_cast<uint32_t>(key.size()), value, static_cast<uint32_t>(line)});
}

namespace {

// Where the sweep's intervals go: counted first, then stored into vectors of exactly that size
// (no doubling, no shrinking copy). An interval starting where the last one starts replaces it
// (what is open there now wins); one with the last one's entry extends it.
template <class U>
struct IntervalSink {
  std::vector<U>* starts = nullptr;  // null: count only
  std::vector<uint32_t>* entries = nullptr;
  size_t count = 0;
  U lastStart = 0;
  uint32_t lastEntry = UINT32_MAX;

  void emit(U start, uint32_t entry) {
    if (count > 0 && lastStart == start) {
      lastEntry = entry;
      if (entries) entries->back() = entry;
    } else if (count == 0 || lastEntry != entry) {
      ++count;
      lastStart = start;
      lastEntry = entry;
      if (starts) {
        starts->push_back(start);
        entries->push_back(entry);
      }
    }
  }
};

}  // namespace

template <class U>
void CidrIndex::flatten(const Network* begin, const Network* end, int bits,
                        Intervals<U>& out) const {
  const U top = hostMask<U>(bits, 0);
  struct Open {
    U end;
    uint32_t entry;
  };
  std::vector<Open> open;  // at most `bits` + 1 deep: each one nests in the one below
  auto sweep = [&](IntervalSink<U>& sink) {
    sink.emit(0, kNone);
    auto close = [&] {
      Open done = open.back();
      open.pop_back();
      if (done.end != top) sink.emit(done.end + 1, open.empty() ? kNone : open.back().entry);
    };
    for (const Network* n = begin; n != end; ++n) {
      U start = static_cast<U>(n->start);
      while (!open.empty() && open.back().end < start) close();
      sink.emit(start, n->entry);
      open.push_back({start | hostMask<U>(bits, n->prefix), n->entry});
    }
    while (!open.empty()) close();
  };
  IntervalSink<U> counter;
  sweep(counter);
  out.starts.reserve(counter.count);
  out.entries.reserve(counter.count);
  IntervalSink<U> writer{&out.starts, &out.entries};
  sweep(writer);
}

void CidrIndex::finish() {
  // Per family, less specific first at one start, and file order among equals: a network
  // repeated follows its first occurrence.
  std::sort(networks_.begin(), networks_.end(), [](const Network& a, const Network& b) {
    if (a.v6 != b.v6) return b.v6;
    if (a.start != b.start) return a.start < b.start;
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.entry < b.entry;
  });
  // The earliest line that repeats a network, and the line it repeats.
  int repeat = 0;
  int first = 0;
  uint32_t repeated = 0;
  size_t group = 0;  // the first network of a run of equal ones
  for (size_t i = 1; i < networks_.size(); ++i) {
    const Network& g = networks_[group];
    const Network& n = networks_[i];
    if (g.v6 != n.v6 || g.start != n.start || g.prefix != n.prefix) {
      group = i;
    } else if (int line = static_cast<int>(entries_[n.entry].line); repeat == 0 || line < repeat) {
      repeat = line;
      first = static_cast<int>(entries_[g.entry].line);
      repeated = n.entry;
    }
  }
  if (repeat != 0)
    throw config::ConfigError(file_, repeat, "",
                              "duplicate key '" + shownKey(hit(repeated).key) +
                                  "' (first at line " + std::to_string(first) + ")");
  const Network* all = networks_.data();
  const Network* v6 =
      std::partition_point(all, all + networks_.size(), [](const Network& n) { return !n.v6; });
  flatten(all, v6, 32, v4_);
  flatten(v6, all + networks_.size(), 128, v6_);
  std::vector<Network>().swap(networks_);
  if (entries_.capacity() > entries_.size() + entries_.size() / 8 + 64) entries_.shrink_to_fit();
}

template <class U>
std::optional<IndexHit> CidrIndex::search(const Intervals<U>& in, U address) const {
  auto it = std::upper_bound(in.starts.begin(), in.starts.end(), address);
  uint32_t entry = in.entries[static_cast<size_t>(it - in.starts.begin()) - 1];
  if (entry == kNone) return std::nullopt;
  return hit(entry);
}

IndexHit CidrIndex::hit(uint32_t entry) const {
  const Entry& e = entries_[entry];
  return {keys_.view(e.keyPosition, e.keyLength), e.value, static_cast<int>(e.line)};
}

std::optional<IndexHit> CidrIndex::findAddress(const IpAddress& ip) const {
  if (ip.isV4()) return search(v4_, fromBytes<uint32_t>(ip.bytes().data(), 4));
  return search(v6_, fromBytes<U128>(ip.bytes().data(), 16));
}

std::optional<IndexHit> CidrIndex::find(std::string_view subject) const {
  auto ip = IpAddress::parse(subject);
  if (!ip) return std::nullopt;
  return findAddress(*ip);
}

size_t CidrIndex::memoryBytes() const {
  return keys_.memoryBytes() + entries_.capacity() * sizeof(Entry) +
         v4_.starts.capacity() * sizeof(uint32_t) + v4_.entries.capacity() * sizeof(uint32_t) +
         v6_.starts.capacity() * sizeof(U128) + v6_.entries.capacity() * sizeof(uint32_t) +
         networks_.capacity() * sizeof(Network);
}

}  // namespace mxguard::maps
