// strings_test.cpp - the shared string helpers byte for byte: ASCII only (bytes >= 0x80 and the
// C locale's other classes untouched), one trailing dot, every white-space byte isspace() knew,
// empty fields kept.
#include "base/strings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mxguard {
namespace {

TEST(Strings, LowerFoldsAsciiOnly) {
  EXPECT_EQ(lower("Mail.EXAMPLE.com"), "mail.example.com");
  EXPECT_EQ(lower(""), "");
  EXPECT_EQ(lower("@[]^_`{}~ 09"), "@[]^_`{}~ 09");  // neighbours of A-Z and a-z stay
  // UTF-8 and Latin-1 bytes are not letters here, whatever the locale.
  EXPECT_EQ(lower("\xC3\x89T\xC9"), "\xC3\x89t\xC9");
  EXPECT_EQ(lower(std::string("A\0B", 3)), std::string("a\0b", 3));
}

TEST(Strings, CanonicalHostNameDropsOneTrailingDot) {
  EXPECT_EQ(canonicalHostName("Mail.Example.COM."), "mail.example.com");
  EXPECT_EQ(canonicalHostName("mail.example.com"), "mail.example.com");
  EXPECT_EQ(canonicalHostName("a.."), "a.");
  EXPECT_EQ(canonicalHostName("."), "");
  EXPECT_EQ(canonicalHostName(""), "");
}

TEST(Strings, EqualsIgnoreCase) {
  EXPECT_TRUE(equalsIgnoreCase("DKIM-Signature", "dkim-signature"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_FALSE(equalsIgnoreCase("From", "Fro"));
  EXPECT_FALSE(equalsIgnoreCase("[", "{"));  // 0x5B is not 0x7B's upper case
  EXPECT_FALSE(equalsIgnoreCase("\xC9", "\xE9"));
}

TEST(Strings, TrimDropsAsciiWhiteSpaceAtBothEnds) {
  EXPECT_EQ(trim(" \t\n\v\f\r value  with space \r\n"), "value  with space");
  EXPECT_EQ(trim("   "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
  EXPECT_EQ(trim("\xA0x\xA0"), "\xA0x\xA0");  // no-break space is not ASCII white space
}

TEST(Strings, TrimLineEndDropsEveryTrailingCrAndLf) {
  EXPECT_EQ(trimLineEnd("550 5.7.1 no\r\n"), "550 5.7.1 no");
  EXPECT_EQ(trimLineEnd("550-5.7.1 a\r\n550 5.7.1 b\r\n\n\r"), "550-5.7.1 a\r\n550 5.7.1 b");
  EXPECT_EQ(trimLineEnd("\r\n"), "");
  EXPECT_EQ(trimLineEnd(" text "), " text ");
}

TEST(Strings, SplitFieldsKeepsEmptyFields) {
  using V = std::vector<std::string>;
  EXPECT_EQ(splitFields("12:30:05", ':'), (V{"12", "30", "05"}));
  EXPECT_EQ(splitFields("127..0.1", '.'), (V{"127", "", "0", "1"}));
  EXPECT_EQ(splitFields(":", ':'), (V{"", ""}));
  EXPECT_EQ(splitFields("", ';'), (V{""}));
  EXPECT_EQ(splitFields("one", ';'), (V{"one"}));
}

}  // namespace
}  // namespace mxguard
