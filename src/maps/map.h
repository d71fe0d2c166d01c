// map.h - a map file (Postfix access-map style: "KEY VALUE" lines) loaded into an immutable,
// compact index of one kind: cidr, domain, hostname, address or regexp. Access rules and policy
// classes look their subjects (client address, HELO, sender, recipient) up in it.
// Must not: change after load (many connection threads read one map at once), or parse values:
// they are kept as text for the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip_address.h"
#include "maps/map_kind.h"
#include "maps/value_table.h"

namespace mxguard::maps {

class MapIndex;

struct MapEntry {
  std::string_view key;    // as written in the file: "192.0.2.0/24", ".example.com"
  std::string_view value;  // as written, trimmed, continuations joined; may be empty
  int line;
  uint32_t valueIndex;  // the value's index among the map's distinct values (valueText)
};

class Map {
 public:
  // At most this much file is read: far above any real map (a million entries is ~30 MB).
  static constexpr size_t kMaxFileBytes = size_t(1) << 30;

  // Reads `path` as a protected file (config::readProtectedFile: a regular file nobody but its
  // owner can write, at most kMaxFileBytes) and parses it. Throws config::ConfigError, whose
  // what() is "FILE:LINE: message" for a bad line.
  static std::shared_ptr<const Map> load(MapKind kind, const std::string& path);
  static std::shared_ptr<const Map> parse(MapKind kind, std::string_view text,
                                          const std::string& fileName);

  ~Map();
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;

  MapKind kind() const { return kind_; }
  const std::string& file() const { return file_; }
  size_t size() const;
  // What the map holds on the heap (keys, values, index; RE2 programs estimated).
  size_t memoryBytes() const;

  // The distinct values, each stored once (equal texts share an index), so a caller can parse
  // each once at load and find the result by MapEntry::valueIndex; valueLine is the line where a
  // value is first written (for the caller's errors).
  uint32_t valueCount() const { return static_cast<uint32_t>(values_.size()); }
  std::string_view valueText(uint32_t index) const { return values_.text(index); }
  int valueLine(uint32_t index) const { return values_.firstLine(index); }

  // cidr maps: the most specific network holding `ip`. Other kinds: nullopt.
  std::optional<MapEntry> findAddress(const IpAddress& ip) const;
  // domain, hostname, address, regexp maps: the entry for `subject` by the kind's rules; cidr
  // maps parse `subject` as an address ("192.0.2.1", "[IPv6:2001:db8::1]") first.
  std::optional<MapEntry> find(std::string_view subject) const;

 private:
  Map(MapKind kind, std::string file);

  MapKind kind_;
  std::string file_;
  ValueTable values_;
  std::unique_ptr<MapIndex> index_;
};

}  // namespace mxguard::maps
