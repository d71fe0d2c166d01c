// config_file_test.cpp - INI parsing through Boost.Program_options with file:line:option errors.
#include "config/config_file.h"

#include <gtest/gtest.h>

namespace mxguard::config {
namespace {

const std::vector<OptionSpec> kSpecs{
    {"name", OptionKind::String, "none", false, 0, 0, ""},
    {"flag", OptionKind::Bool, "no", false, 0, 0, ""},
    {"count", OptionKind::Int, "3", false, 1, 10, ""},
    {"timeout", OptionKind::Duration, "5s", false, 10, 60000, ""},
    {"items", OptionKind::List, "a b", false, 0, 0, ""},
    {"zone", OptionKind::String, "", true, 0, 0, ""},
};

std::string errorOf(const std::string& text) {
  try {
    auto f = ConfigFile::parse(text, "p.conf");
    for (const auto& s : f.sectionNames()) f.section(s, kSpecs);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ConfigFile, ReadsSectionsValuesAndLines) {
  auto f = ConfigFile::parse(
      "# comment\n\n[stage]\nname = hello world  # trailing comment\nflag=YES\r\n"
      "zone = a\nzone = b\ncount = 7\ntimeout = 250ms\nitems = x, y  z\n",
      "p.conf");
  EXPECT_EQ(f.sectionNames(), std::vector<std::string>{"stage"});
  EXPECT_EQ(f.sectionLine("stage"), 3);
  auto s = f.section("stage", kSpecs);
  EXPECT_EQ(s.getString("name"), "hello world");
  EXPECT_EQ(s.find("name")->line, 4);
  EXPECT_TRUE(s.getBool("flag"));
  EXPECT_EQ(s.getInt("count"), 7);
  EXPECT_EQ(s.getDuration("timeout"), std::chrono::milliseconds(250));
  EXPECT_EQ(s.getList("items"), (std::vector<std::string>{"x", "y", "z"}));
  auto zones = s.getAll("zone");
  ASSERT_EQ(zones.size(), 2u);
  EXPECT_EQ(zones[0].text, "a");
  EXPECT_EQ(zones[0].line, 6);
  EXPECT_EQ(zones[1].text, "b");
  EXPECT_EQ(zones[1].line, 7);
}

TEST(ConfigFile, DefaultsForAbsentOptionsAndSections) {
  auto f = ConfigFile::parse("", "p.conf");
  auto s = f.section("missing", kSpecs);
  EXPECT_EQ(s.getString("name"), "none");
  EXPECT_FALSE(s.getBool("flag"));
  EXPECT_EQ(s.getDuration("timeout"), std::chrono::seconds(5));
  EXPECT_EQ(s.getList("items"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(s.getAll("zone").empty());
}

TEST(ConfigFile, ErrorsNameFileLineAndOption) {
  EXPECT_EQ(errorOf("[s]\nnot an option\n"),
            "p.conf:2: expected 'name = value' or '[section]', got 'not an option'");
  EXPECT_EQ(errorOf("[s\n"), "p.conf:1: unterminated section header '[s'");
  EXPECT_EQ(errorOf("[s]\n = x\n"), "p.conf:2: option name missing before '='");
  EXPECT_EQ(errorOf("[s]\ncolour = blue\n"),
            "p.conf:2: s.colour: unknown option 'colour' in [s]; known options: name, flag, count, "
            "timeout, items, zone");
  EXPECT_EQ(errorOf("[s]\nname = a\n\nname = b\n"),
            "p.conf:4: s.name: given twice (first at line 2)");
  EXPECT_EQ(errorOf("[s]\nflag = maybe\n"),
            "p.conf:2: s.flag: invalid boolean 'maybe' (use yes or no)");
  EXPECT_EQ(errorOf("[s]\ncount = 0\n"), "p.conf:2: s.count: value 0 is below the minimum 1");
  EXPECT_EQ(errorOf("[s]\ncount = 11\n"), "p.conf:2: s.count: value 11 is above the maximum 10");
  EXPECT_EQ(errorOf("[s]\ncount = 1x\n"), "p.conf:2: s.count: invalid number '1x'");
  EXPECT_EQ(errorOf("[s]\ntimeout = soon\n"),
            "p.conf:2: s.timeout: invalid duration 'soon' (use e.g. 500ms, 5s, 2m)");
  EXPECT_EQ(errorOf("[s]\ntimeout = 5ms\n"),
            "p.conf:2: s.timeout: value 5ms is below the minimum 10ms");
  EXPECT_EQ(errorOf("[s]\ntimeout = 61s\n"),  // durations in the largest whole unit
            "p.conf:2: s.timeout: value 61s is above the maximum 1m");
  EXPECT_EQ(errorOf(std::string("[s]\nname = a\0b\n", 14)),
            "p.conf:2: NUL byte in configuration line");
}

TEST(ConfigFile, SectionFailPointsAtTheOption) {
  auto f = ConfigFile::parse("[s]\n\nname = x\n", "p.conf");
  auto s = f.section("s", kSpecs);
  try {
    s.fail("name", "bad name");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "p.conf:3: s.name: bad name");
    EXPECT_EQ(e.line, 3);
    EXPECT_EQ(e.option, "s.name");
  }
}

TEST(ConfigFile, MissingFile) {
  try {
    ConfigFile::load("/nonexistent/x.conf");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/x.conf: cannot open: No such file or directory");
  }
}

TEST(ConfigFile, HugeAndBinaryLinesDoNotCrash) {
  std::string big = "[s]\nname = " + std::string(1 << 20, 'x') + "\n";
  auto f = ConfigFile::parse(big, "p.conf");
  EXPECT_EQ(f.section("s", kSpecs).getString("name").size(), size_t(1) << 20);
  EXPECT_EQ(errorOf("[s]\n\xff\xfe = 1\n"),
            "p.conf:2: invalid option name '?"
            "?'");
}

}  // namespace
}  // namespace mxguard::config
