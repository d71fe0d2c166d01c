// map.cpp - the file read once, each entry handed to the kind's index with its value interned,
// the index finished (sorted, flattened, compiled) before anyone can see the map.
// Must not: expose a map before finish() (it is const from then on), or keep the file's text.
#include "maps/map.h"

#include <algorithm>

#include "config/protected_file.h"
#include "maps/address_index.h"
#include "maps/cidr_index.h"
#include "maps/map_file_reader.h"
#include "maps/name_index.h"
#include "maps/regexp_index.h"

namespace mxguard::maps {
namespace {

std::unique_ptr<MapIndex> indexFor(MapKind kind, const std::string& file) {
  switch (kind) {
    case MapKind::Cidr:
      return std::make_unique<CidrIndex>(file);
    case MapKind::Domain:
      return std::make_unique<NameIndex>(file, true);
    case MapKind::Hostname:
      return std::make_unique<NameIndex>(file, false);
    case MapKind::Address:
      return std::make_unique<AddressIndex>(file);
    case MapKind::Regexp:
      return std::make_unique<RegexpIndex>(file);
  }
  return nullptr;
}

}  // namespace

Map::Map(MapKind kind, std::string file) : kind_(kind), file_(std::move(file)) {}

Map::~Map() = default;

std::shared_ptr<const Map> Map::load(MapKind kind, const std::string& path) {
  return parse(kind, config::readProtectedFile(path, kMaxFileBytes, "a map file"), path);
}

std::shared_ptr<const Map> Map::parse(MapKind kind, std::string_view text,
                                      const std::string& fileName) {
  std::shared_ptr<Map> map(new Map(kind, fileName));
  // The indexes keep a reference to the map's own copy of the name for their errors.
  map->index_ = indexFor(kind, map->file_);
  map->index_->reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  MapFileReader reader(text, map->file_,
                       kind == MapKind::Regexp ? KeySyntax::Pattern : KeySyntax::Word);
  MapLine entry;
  while (reader.next(entry))
    map->index_->add(entry.key, map->values_.intern(entry.value, entry.line), entry.line);
  map->index_->finish();
  map->values_.freeze();
  return map;
}

size_t Map::size() const {
  return index_->size();
}

size_t Map::memoryBytes() const {
  return sizeof(Map) + file_.capacity() + values_.memoryBytes() + index_->memoryBytes();
}

std::optional<MapEntry> Map::findAddress(const IpAddress& ip) const {
  auto hit = index_->findAddress(ip);
  if (!hit) return std::nullopt;
  return MapEntry{hit->key, values_.text(hit->value), hit->line, hit->value};
}

std::optional<MapEntry> Map::find(std::string_view subject) const {
  auto hit = index_->find(subject);
  if (!hit) return std::nullopt;
  return MapEntry{hit->key, values_.text(hit->value), hit->line, hit->value};
}

}  // namespace mxguard::maps
