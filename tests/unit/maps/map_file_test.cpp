// map_file_test.cpp - what every kind shares: kind names, comments, blank lines, CRLF,
// continuation lines, values interned, files refused like the policy file, and a 10 MB map.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "map_test_support.h"

namespace mxguard::maps {
namespace {

using test::errorOf;
using test::parse;
using test::valueOf;

TEST(MapKindNames, BothWays) {
  for (MapKind k :
       {MapKind::Cidr, MapKind::Domain, MapKind::Hostname, MapKind::Address, MapKind::Regexp})
    EXPECT_EQ(parseMapKind(toString(k)), k);
  EXPECT_STREQ(toString(MapKind::Cidr), "cidr");
  EXPECT_STREQ(toString(MapKind::Hostname), "hostname");
  EXPECT_EQ(parseMapKind("address"), MapKind::Address);
  EXPECT_EQ(parseMapKind("regexp"), MapKind::Regexp);
  EXPECT_EQ(parseMapKind("domain"), MapKind::Domain);
  EXPECT_EQ(parseMapKind("Domain"), std::nullopt);
  EXPECT_EQ(parseMapKind("hash"), std::nullopt);
  EXPECT_EQ(parseMapKind(""), std::nullopt);
}

TEST(MapFile, CommentsBlankLinesAndValues) {
  auto map = parse(MapKind::Domain,
                   "# senders we trust\n"
                   "\n"
                   "   \t\n"
                   "   # an indented comment\n"
                   "a.example   OK\n"
                   "b.example\t\tREJECT  go away  \n"
                   "c.example\n"
                   "d.example REJECT # not a comment: the rest of the line is the value\n");
  EXPECT_EQ(map->size(), 4u);
  EXPECT_EQ(valueOf(*map, "a.example"), "OK");
  EXPECT_EQ(valueOf(*map, "b.example"), "REJECT  go away");
  EXPECT_EQ(valueOf(*map, "c.example"), "");
  EXPECT_EQ(valueOf(*map, "d.example"),
            "REJECT # not a comment: the rest of the line is the value");
  EXPECT_EQ(map->find("a.example")->line, 5);
  EXPECT_EQ(map->find("d.example")->line, 8);
  EXPECT_EQ(map->kind(), MapKind::Domain);
  EXPECT_EQ(map->file(), "m.map");
}

TEST(MapFile, CrlfLineEnds) {
  auto map =
      parse(MapKind::Address, "# windows\r\nuser@example.com REJECT\r\n\r\n@example.org OK\r\n");
  EXPECT_EQ(valueOf(*map, "user@example.com"), "REJECT");
  EXPECT_EQ(valueOf(*map, "x@example.org"), "OK");
  EXPECT_EQ(map->find("x@example.org")->line, 4);
  auto noFinalNewline = parse(MapKind::Address, "user@example.com REJECT\r");
  EXPECT_EQ(valueOf(*noFinalNewline, "user@example.com"), "REJECT");
}

TEST(MapFile, ContinuationLinesJoinWithOneSpace) {
  auto map = parse(MapKind::Hostname,
                   "a.example 550 5.7.1 this client\n"
                   "    is not welcome\n"
                   "\t here\n"
                   "b.example\n"
                   "  value on the next line\n"
                   "c.example first\n"
                   "# a comment between\n"
                   "\n"
                   "  still c\n"
                   "d.example alone\n");
  EXPECT_EQ(map->size(), 4u);
  EXPECT_EQ(valueOf(*map, "a.example"), "550 5.7.1 this client is not welcome here");
  EXPECT_EQ(valueOf(*map, "b.example"), "value on the next line");
  EXPECT_EQ(valueOf(*map, "c.example"), "first still c");
  EXPECT_EQ(valueOf(*map, "d.example"), "alone");
  EXPECT_EQ(map->find("b.example")->line, 4);
  EXPECT_EQ(map->find("d.example")->line, 10);
  // A continued entry's value outlives the next continued one (joined values are copied).
  auto two = parse(MapKind::Hostname, "a.example one\n two\nb.example three\n four\n");
  EXPECT_EQ(valueOf(*two, "a.example"), "one two");
  EXPECT_EQ(valueOf(*two, "b.example"), "three four");
}

TEST(MapFile, LineErrorsNameTheirLine) {
  EXPECT_EQ(errorOf(MapKind::Domain, "# start\n   continued text\na.example x\n"),
            "m.map:2: a line starting with white space continues an entry, but no entry comes "
            "before it: 'continued text'");
  EXPECT_EQ(errorOf(MapKind::Domain, std::string("a.example x\nb.exa\0mple y\n", 25)),
            "m.map:2: NUL byte in map line");
}

TEST(MapFile, EqualValuesAreStoredOnce) {
  std::string few;
  std::string many;
  for (int i = 0; i < 20000; ++i) {
    few += "host" + std::to_string(i) + ".example " + std::string(100, 'R') + "\n";
    many +=
        "host" + std::to_string(i) + ".example " + std::string(100, 'R') + std::to_string(i) + "\n";
  }
  auto shared = parse(MapKind::Hostname, few);
  auto distinct = parse(MapKind::Hostname, many);
  auto a = shared->find("host1.example");
  auto b = shared->find("host19999.example");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->value.data(), b->value.data());
  // 20,000 copies of 100 bytes would be 2 MB on their own.
  EXPECT_LT(shared->memoryBytes() + 1900000, distinct->memoryBytes());
}

// What a caller needs to parse each distinct value once at load and find it again per lookup.
TEST(MapFile, DistinctValuesWithTheLineFirstSayingThem) {
  auto map = parse(MapKind::Address,
                   "# rules\n"
                   "a@example.com REJECT\n"
                   "b@example.com OK\n"
                   "c@example.com REJECT\n"
                   "d@example.com\n"
                   "e@example.com OK\n");
  ASSERT_EQ(map->valueCount(), 3u);
  EXPECT_EQ(map->valueText(0), "REJECT");
  EXPECT_EQ(map->valueLine(0), 2);
  EXPECT_EQ(map->valueText(1), "OK");
  EXPECT_EQ(map->valueLine(1), 3);
  EXPECT_EQ(map->valueText(2), "");
  EXPECT_EQ(map->valueLine(2), 5);
  EXPECT_EQ(map->find("c@example.com")->valueIndex, 0u);
  EXPECT_EQ(map->find("e@example.com")->valueIndex, 1u);
  EXPECT_EQ(map->find("d@example.com")->valueIndex, 2u);
  EXPECT_EQ(map->find("e@example.com")->line, 6);
}

TEST(MapFile, ReadByManyThreadsAtOnce) {
  auto map = parse(MapKind::Regexp, "/^a+$/ a\n/b/i b\n");
  auto cidr = parse(MapKind::Cidr, "10.0.0.0/8 ten\n10.1.0.0/16 sixteen\n");
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (valueOf(*map, "aaaa") != "a" || valueOf(*map, "xBx") != "b") ++wrong[t];
        if (valueOf(*cidr, "10.1.2.3") != "sixteen" || valueOf(*cidr, "10.2.0.0") != "ten")
          ++wrong[t];
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

// A file written with `mode`, in a fresh directory removed at the end.
class MapOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/map-test.XXXXXX";
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
  static std::string loadError(MapKind kind, const std::string& path) {
    try {
      Map::load(kind, path);
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "no error";
  }
  std::string dir;
};

TEST_F(MapOnDisk, LoadsAFileOnlyItsOwnerCanWrite) {
  std::string path = write("clients.cidr", "192.0.2.0/24 OK\n", 0644);
  auto map = Map::load(MapKind::Cidr, path);
  EXPECT_EQ(map->file(), path);
  EXPECT_EQ(valueOf(*map, "192.0.2.1"), "OK");
  // Errors name the file as given.
  std::string bad = write("bad.cidr", "192.0.2.0/24 OK\n192.0.2.1/24 x\n", 0600);
  EXPECT_EQ(loadError(MapKind::Cidr, bad),
            bad +
                ":2: '192.0.2.1/24' has host bits set: the network is 192.0.2.0/24 (for the one "
                "address, leave out the '/24')");
}

// Whoever can write a map decides what mail gets through.
TEST_F(MapOnDisk, RefusesAFileGroupOrOthersCanWrite) {
  std::string group = write("group.map", "a.example OK\n", 0664);
  EXPECT_EQ(loadError(MapKind::Domain, group),
            group +
                ": mode 0664 lets group change this file, which decides what mxguard does with "
                "mail; run: chmod go-w " +
                group);
  std::string world = write("world.map", "a.example OK\n", 0666);
  EXPECT_EQ(loadError(MapKind::Domain, world),
            world +
                ": mode 0666 lets group and others change this file, which decides what mxguard "
                "does with mail; run: chmod go-w " +
                world);
}

TEST_F(MapOnDisk, RefusesWhatIsNotARegularFileAndWhatIsMissing) {
  EXPECT_EQ(loadError(MapKind::Address, dir),
            dir + ": not a regular file (a directory); give the path of a map file");
  std::string fifo = dir + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(loadError(MapKind::Address, fifo),
            fifo + ": not a regular file (a FIFO); give the path of a map file");
  EXPECT_EQ(loadError(MapKind::Address, dir + "/missing.map"),
            dir + "/missing.map: cannot open: No such file or directory");
}

TEST_F(MapOnDisk, TenMegabyteAddressMap) {
  std::string text;
  text.reserve(11 << 20);
  const char* values[] = {"REJECT", "OK", "DUNNO"};
  int n = 0;
  while (text.size() < (10u << 20)) {
    text += "user" + std::to_string(n) + "@d" + std::to_string(n % 997) + ".example ";
    text += values[n % 3];
    text += '\n';
    ++n;
  }
  ASSERT_GT(n, 350000);
  std::string path = write("big.address", text, 0600);
  text.clear();
  text.shrink_to_fit();
  auto start = std::chrono::steady_clock::now();
  auto map = Map::load(MapKind::Address, path);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(map->size(), static_cast<size_t>(n));
  auto first = map->find("user0@d0.example");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->value, "REJECT");
  EXPECT_EQ(first->line, 1);
  int middle = n / 2;
  auto mid =
      map->find("USER" + std::to_string(middle) + "@D" + std::to_string(middle % 997) + ".EXAMPLE");
  ASSERT_TRUE(mid);
  EXPECT_EQ(mid->value, values[middle % 3]);
  EXPECT_EQ(mid->line, middle + 1);
  auto last =
      map->find("user" + std::to_string(n - 1) + "@d" + std::to_string((n - 1) % 997) + ".example");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->line, n);
  EXPECT_FALSE(map->find("user" + std::to_string(n) + "@d0.example"));
  EXPECT_FALSE(map->find("user1@d0.example"));  // user1 is at d1
  // Keys (~22 bytes), 16-byte records and the hash: far below 100 bytes an entry.
  EXPECT_LT(map->memoryBytes(), static_cast<size_t>(n) * 80);
  // Generous for a sanitizer build; the release build's number is in bench/README.md.
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(took).count(), 30);
}

}  // namespace
}  // namespace mxguard::maps
