// config_file_test.cpp - INI parsing through Boost.Program_options with file:line:option errors.
#include "config/config_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

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

// A file written with `mode`, in a fresh directory removed at the end.
class ConfigFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/config-file-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text, mode_t mode) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
  }
  static std::string loadError(const std::string& path) {
    try {
      ConfigFile::load(path);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  }
  std::string dir;
};

TEST_F(ConfigFileOnDisk, ReadsAFileOnlyItsOwnerCanWrite) {
  std::string path = write("ok.conf", "[s]\nname = x\n", 0644);
  EXPECT_EQ(ConfigFile::load(path).section("s", kSpecs).getString("name"), "x");
}

// The policy sets callout ports and allow_private: whoever can write it steers the daemon.
TEST_F(ConfigFileOnDisk, RefusesAFileGroupOrOthersCanWrite) {
  std::string world = write("world.conf", "[s]\n", 0666);
  EXPECT_EQ(loadError(world), world +
                                  ": mode 0666 lets group and others change this file, which "
                                  "decides what mxguard does with mail; run: chmod go-w " +
                                  world);
  std::string group = write("group.conf", "[s]\n", 0664);
  EXPECT_EQ(loadError(group), group +
                                  ": mode 0664 lets group change this file, which decides what "
                                  "mxguard does with mail; run: chmod go-w " +
                                  group);
  std::string others = write("others.conf", "[s]\n", 0642);
  EXPECT_EQ(loadError(others), others +
                                   ": mode 0642 lets others change this file, which decides what "
                                   "mxguard does with mail; run: chmod go-w " +
                                   others);
}

// /dev/zero used to end in std::bad_alloc; a FIFO would block the start for ever.
TEST_F(ConfigFileOnDisk, RefusesWhatIsNotARegularFile) {
  EXPECT_EQ(loadError("/dev/zero"),
            "/dev/zero: not a regular file (a character device); give the path of a "
            "configuration file");
  EXPECT_EQ(loadError(dir), dir +
                                ": not a regular file (a directory); give the path of a "
                                "configuration file");
  std::string fifo = dir + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(loadError(fifo), fifo +
                                 ": not a regular file (a FIFO); give the path of a "
                                 "configuration file");
}

TEST_F(ConfigFileOnDisk, RefusesAFileLargerThanOneMebibyte) {
  std::string atCap = write("cap.conf", "#" + std::string((1 << 20) - 2, 'x') + "\n", 0600);
  EXPECT_NO_THROW(ConfigFile::load(atCap));
  std::string big = write("big.conf", "#" + std::string(1 << 20, 'x') + "\n", 0600);
  EXPECT_EQ(loadError(big), big +
                                ": 1048578 bytes, larger than the 1048576 a configuration file "
                                "may have");
}

}  // namespace
}  // namespace mxguard::config
