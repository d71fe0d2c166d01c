// fuzz_map.cpp - libFuzzer target for map files and their lookups. The first byte picks the map
// kind; with its high bit set the rest is map text through Map::parse (the admin's file: only
// ConfigError may escape) and a few fixed subjects are looked up in what it built; otherwise the
// rest is a subject (a client's HELO, sender or recipient: remote data) looked up in a fixed map
// of that kind, which must never throw. A hit must point into the map: a line > 0 and a key.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config_error.h"
#include "fuzz_check.h"
#include "maps/map.h"

using namespace mxguard;

namespace {

constexpr std::array kKinds{maps::MapKind::Cidr, maps::MapKind::Domain, maps::MapKind::Hostname,
                            maps::MapKind::Address, maps::MapKind::Regexp};

std::shared_ptr<const maps::Map> fixedMap(maps::MapKind kind) {
  switch (kind) {
    case maps::MapKind::Cidr:
      return maps::Map::parse(kind,
                              "0.0.0.0/0 any4\n10.0.0.0/8 ten\n10.1.2.3 host\n::/0 any6\n"
                              "2001:db8::/32 doc\n::ffff:192.0.2.0/120 mapped\n",
                              "fixed.cidr");
    case maps::MapKind::Domain:
    case maps::MapKind::Hostname:
      return maps::Map::parse(kind,
                              "example.com a\n.example.com below\nbücher.example idn\n"
                              "[192.0.2.1] literal\n.com tld\n",
                              "fixed.names");
    case maps::MapKind::Address:
      return maps::Map::parse(kind,
                              "user@example.com full\n@example.com domain\npostmaster@ local\n"
                              "user@bücher.example idn\n",
                              "fixed.addresses");
    case maps::MapKind::Regexp:
      return maps::Map::parse(kind,
                              "/^mail[0-9]+\\.example\\.com$/i one\n/(a+)+b/ nested\n/\\x00/ nul\n"
                              "/[[:^alpha:]]{3,}/ class\n",
                              "fixed.regexp");
  }
  return nullptr;
}

void lookUp(const maps::Map& map, std::string_view subject) {
  auto hit = map.find(subject);
  if (hit && (hit->line <= 0 || hit->valueIndex >= map.valueCount()))
    fuzz::fail("hit outside the map", std::string(subject));
  if (auto ip = IpAddress::parse(subject)) {
    auto byAddress = map.findAddress(*ip);
    if (byAddress && byAddress->line <= 0)
      fuzz::fail("address hit without a line", std::string(subject));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  maps::MapKind kind = kKinds[(data[0] & 0x7f) % kKinds.size()];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 0x80) {
    try {
      auto map = maps::Map::parse(kind, rest, "fuzz.map");
      for (uint32_t i = 0; i < map->valueCount(); ++i) {
        if (map->valueLine(i) <= 0) fuzz::fail("value without a line", std::string(rest));
        (void)map->valueText(i);
      }
      for (const char* s : {"example.com", "a.b.example.com", "user@example.com", "192.0.2.1",
                            "2001:db8::1", "", "<>", "@", "."})
        lookUp(*map, s);
    } catch (const config::ConfigError&) {
    }
    return 0;
  }
  static const std::array<std::shared_ptr<const maps::Map>, kKinds.size()> fixed = [] {
    std::array<std::shared_ptr<const maps::Map>, kKinds.size()> m;
    for (size_t i = 0; i < kKinds.size(); ++i) m[i] = fixedMap(kKinds[i]);
    return m;
  }();
  lookUp(*fixed[(data[0] & 0x7f) % kKinds.size()], rest);
  return 0;
}
