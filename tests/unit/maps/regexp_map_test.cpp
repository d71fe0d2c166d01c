// regexp_map_test.cpp - regexp maps: the first pattern in file order wins, unanchored unless the
// admin anchors, the i flag, '/' inside patterns, and RE2's error text for a bad pattern.
#include <gtest/gtest.h>

#include "map_test_support.h"

namespace mxguard::maps {
namespace {

using test::errorOf;
using test::keyOf;
using test::parse;
using test::valueOf;

TEST(RegexpMap, FirstMatchInFileOrderWins) {
  auto map = parse(MapKind::Regexp,
                   "/^mail[0-9]+\\.example\\.com$/ numbered\n"
                   "/example\\.com/ anywhere\n"
                   "/^mail1\\.example\\.com$/ never-first\n");
  EXPECT_EQ(valueOf(*map, "mail1.example.com"), "numbered");
  EXPECT_EQ(valueOf(*map, "www.example.com"), "anywhere");
  EXPECT_EQ(valueOf(*map, "example.community"), "anywhere");
  EXPECT_EQ(valueOf(*map, "example.org"), "(none)");
  EXPECT_EQ(keyOf(*map, "mail1.example.com"), "/^mail[0-9]+\\.example\\.com$/");
  EXPECT_EQ(map->find("www.example.com")->line, 2);

  // The same patterns in the other order: the broad one shadows the anchored one.
  auto reversed = parse(MapKind::Regexp,
                        "/example\\.com/ anywhere\n"
                        "/^mail[0-9]+\\.example\\.com$/ numbered\n");
  EXPECT_EQ(valueOf(*reversed, "mail1.example.com"), "anywhere");
}

TEST(RegexpMap, CaseSensitiveUnlessFlaggedI) {
  auto map = parse(MapKind::Regexp, "/^Viagra/ exact-case\n/pills/i any-case\n");
  EXPECT_EQ(valueOf(*map, "Viagra now"), "exact-case");
  EXPECT_EQ(valueOf(*map, "viagra now"), "(none)");
  EXPECT_EQ(valueOf(*map, "cheap PILLS"), "any-case");
  EXPECT_EQ(valueOf(*map, "cheap Pills"), "any-case");
  EXPECT_EQ(keyOf(*map, "PILLS"), "/pills/i");
}

TEST(RegexpMap, SlashesAndSpacesInPatternsAndValues) {
  auto map = parse(MapKind::Regexp,
                   "/^a\\/b$/ slash\n"
                   "/two words/ spaced\n"
                   "/^x$/ see https://example.com/policy/\n");
  EXPECT_EQ(valueOf(*map, "a/b"), "slash");
  EXPECT_EQ(valueOf(*map, "say two words"), "spaced");
  EXPECT_EQ(valueOf(*map, "x"), "see https://example.com/policy/");
  EXPECT_EQ(keyOf(*map, "two words"), "/two words/");
}

TEST(RegexpMap, LinearTimeOnAPathologicalPattern) {
  // Exponential for a backtracking engine; RE2 answers at once.
  auto map = parse(MapKind::Regexp, "/^(a+)+$/ never\n");
  EXPECT_EQ(valueOf(*map, std::string(5000, 'a') + "!"), "(none)");
  EXPECT_EQ(valueOf(*map, std::string(5000, 'a')), "never");
}

TEST(RegexpMap, ManyPatternsStillFirstInFileOrder) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "/" + std::to_string(i) + "$/ v" + std::to_string(i) + "\n";
  auto map = parse(MapKind::Regexp, text);
  EXPECT_EQ(map->size(), 500u);
  // "x499" ends in "9", "99" and "499": the first of those in the file is "9$" (line 10).
  EXPECT_EQ(valueOf(*map, "x499"), "v9");
  EXPECT_EQ(valueOf(*map, "x0"), "v0");
  EXPECT_EQ(valueOf(*map, "x"), "(none)");
}

TEST(RegexpMap, BadPatternReportsRe2sError) {
  EXPECT_EQ(errorOf(MapKind::Regexp, "/ok/ fine\n/a(b/ x\n"),
            "m.map:2: bad regular expression '/a(b/': missing ): a(b");
  EXPECT_EQ(errorOf(MapKind::Regexp, "/a**/ x\n"),
            "m.map:1: bad regular expression '/a**/': bad repetition operator: **");
  // Backreferences are what RE2 leaves out to stay linear.
  EXPECT_EQ(errorOf(MapKind::Regexp, "/(a)\\1/ x\n"),
            "m.map:1: bad regular expression '/(a)\\1/': invalid escape sequence: \\1");
}

TEST(RegexpMap, BadKeysAreErrorsWithTheirLine) {
  EXPECT_EQ(errorOf(MapKind::Regexp, "/ok/ fine\n/spam/x x\n"),
            "m.map:2: unknown flag 'x' after '/spam/' (the one flag is i, case-insensitive)");
  EXPECT_EQ(errorOf(MapKind::Regexp, "/spam/ii x\n"),
            "m.map:1: flag 'i' given twice in '/spam/ii'");
  EXPECT_EQ(errorOf(MapKind::Regexp, "spam x\n"),
            "m.map:1: expected '/pattern/flags' at the start of the line, got 'spam x'");
  EXPECT_EQ(errorOf(MapKind::Regexp, "/spam x\n"),
            "m.map:1: no closing '/' after the pattern '/spam x' (write a '/' inside the pattern "
            "as \\/)");
  EXPECT_EQ(errorOf(MapKind::Regexp, "/a/b/ x\n"),
            "m.map:1: expected white space after '/a/b', got '/' (write a '/' inside the pattern "
            "as \\/)");
  EXPECT_EQ(errorOf(MapKind::Regexp, "/a/;x\n"),
            "m.map:1: expected white space after '/a/', got ';' (write a '/' inside the pattern "
            "as \\/)");
}

TEST(RegexpMap, DuplicatePatternNamesTheFirstLine) {
  EXPECT_EQ(errorOf(MapKind::Regexp, "/spam/ a\n/spam/i b\n/spam/ c\n"),
            "m.map:3: duplicate key '/spam/' (first at line 1)");
}

// RE2's memory bound per map: a set too large for it is refused at load, never half-compiled.
TEST(RegexpMap, PatternsBeyondTheMemoryBoundAreRefused) {
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "/p" + std::to_string(i) + "[a-z]{0,10}q/ x\n";
  EXPECT_EQ(errorOf(MapKind::Regexp, text),
            "m.map: the patterns together need more than 8 MiB compiled; split them over several "
            "maps");
}

TEST(RegexpMap, EmptyMapMatchesNothing) {
  auto map = parse(MapKind::Regexp, "# nothing yet\n");
  EXPECT_EQ(map->size(), 0u);
  EXPECT_EQ(valueOf(*map, "anything"), "(none)");
}

}  // namespace
}  // namespace mxguard::maps
