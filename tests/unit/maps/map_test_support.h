// map_test_support.h - parsing a map from text in one call, and the error text a bad one gives.
// Must not: hide which kind a test parses (every helper takes it).
#pragma once

#include <memory>
#include <string>

#include "config/config_error.h"
#include "maps/map.h"

namespace mxguard::maps::test {

inline std::shared_ptr<const Map> parse(MapKind kind, const std::string& text) {
  return Map::parse(kind, text, "m.map");
}

// "m.map:LINE: message", or "no error".
inline std::string errorOf(MapKind kind, const std::string& text) {
  try {
    Map::parse(kind, text, "m.map");
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

// The matching entry's value, or "(none)".
inline std::string valueOf(const Map& map, std::string_view subject) {
  auto e = map.find(subject);
  return e ? std::string(e->value) : "(none)";
}

// The matching entry's key as written, or "(none)".
inline std::string keyOf(const Map& map, std::string_view subject) {
  auto e = map.find(subject);
  return e ? std::string(e->key) : "(none)";
}

}  // namespace mxguard::maps::test
