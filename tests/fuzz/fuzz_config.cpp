// fuzz_config.cpp - libFuzzer target: INI configuration text through ConfigFile::parse and then
// every section validated and read with one spec of each kind. Only ConfigError may escape the
// parser and Section::section/getters (std::logic_error would be a programming error: crash).
#include <string>
#include <string_view>
#include <vector>

#include "config/config_file.h"

using namespace mxguard::config;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  static const std::vector<OptionSpec> specs = {
      {"s", OptionKind::String, "", false, 0, 0, "string"},
      {"b", OptionKind::Bool, "no", false, 0, 0, "bool"},
      {"i", OptionKind::Int, "1", false, 0, 1000, "int"},
      {"n", OptionKind::Int, "0", false, -5, 0, "negative int"},
      {"d", OptionKind::Duration, "5s", false, 0, 0, "duration"},
      {"t", OptionKind::Duration, "1s", false, 100, 60000, "bounded duration"},
      {"l", OptionKind::List, "", true, 0, 0, "list"},
  };
  try {
    ConfigFile f = ConfigFile::parse(in, "fuzz.conf");
    for (const auto& name : f.sectionNames()) {
      (void)f.sectionLine(name);
      try {
        Section s = f.section(name, specs);
        (void)s.getString("s");
        (void)s.getBool("b");
        (void)s.getInt("i");
        (void)s.getInt("n");
        (void)s.getDuration("d");
        (void)s.getDuration("t");
        (void)s.getList("l");
        for (const auto& v : s.getAll("l")) (void)v.text;
      } catch (const ConfigError&) {
      }
    }
  } catch (const ConfigError&) {
  }
  return 0;
}
