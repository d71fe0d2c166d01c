// reply_test.cpp - the one reply builder: validation, sanitising, wrapping, soft bounce, '%'.
#include "core/reply.h"

#include <gtest/gtest.h>

namespace mxguard {
namespace {

TEST(Reply, BuildsSingleLine) {
  auto r = Reply::make(554, "5.7.1", "Service unavailable");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code(), 554);
  EXPECT_EQ(r->enhanced(), "5.7.1");
  EXPECT_EQ(r->text(), "Service unavailable");
  EXPECT_EQ(r->toSmtp(), "554 5.7.1 Service unavailable\r\n");
}

TEST(Reply, RejectsCodesOutside4xx5xx) {
  std::string error;
  EXPECT_FALSE(Reply::make(250, "2.0.0", "ok", &error));
  EXPECT_EQ(error, "reply code 250 is not a 4xx or 5xx code");
  EXPECT_FALSE(Reply::make(600, "5.0.0", "x", &error));
}

TEST(Reply, EnhancedClassMustMatchCode) {
  std::string error;
  EXPECT_FALSE(Reply::make(554, "4.7.1", "x", &error));
  EXPECT_EQ(error,
            "enhanced status code 4.7.1 does not match reply code 554 (the class must be 5)");
  EXPECT_FALSE(Reply::make(554, "5.7", "x", &error));
  EXPECT_EQ(error, "invalid enhanced status code '5.7' (use e.g. 5.7.1)");
  EXPECT_FALSE(Reply::make(554, "5.x.1", "x", &error));
}

// RFC 3463: the class is a single digit; "55.7.1" and "555.7.1" once passed validation.
TEST(Reply, EnhancedClassIsOneDigit) {
  std::string error;
  EXPECT_FALSE(Reply::make(550, "55.7.1", "x", &error));
  EXPECT_EQ(error, "invalid enhanced status code '55.7.1' (use e.g. 5.7.1)");
  EXPECT_FALSE(Reply::make(550, "555.7.1", "x", &error));
  EXPECT_EQ(error, "invalid enhanced status code '555.7.1' (use e.g. 5.7.1)");
  EXPECT_TRUE(Reply::make(550, "5.123.456", "x", &error)) << error;
}

TEST(Reply, SanitisesControlBytesAndCrLf) {
  auto r = Reply::make(550, "5.7.1",
                       std::string("a\r\nb\0c\x7f"
                                   "d\xff",
                                   9));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), "a??b?c?d?");
  EXPECT_EQ(r->lines().size(), 1u);
}

TEST(Reply, WrapsLongTextIntoLinesOf512Octets) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "word" + std::to_string(i) + " ";
  auto r = Reply::make(554, "5.7.1", text);
  ASSERT_TRUE(r);
  EXPECT_GT(r->lines().size(), 1u);
  std::string smtp = r->toSmtp();
  size_t start = 0;
  while (start < smtp.size()) {
    size_t end = smtp.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end + 2 - start, Reply::kMaxLineOctets);
    start = end + 2;
  }
  size_t lastLine = smtp.rfind("\r\n", smtp.size() - 3) + 2;
  EXPECT_EQ(smtp.substr(lastLine, 10), "554 5.7.1 ");  // the last line has a space, the others '-'
  EXPECT_EQ(smtp.substr(0, 10), "554-5.7.1 ");
}

TEST(Reply, UnbrokenTextIsCutAtLineWidth) {
  auto r = Reply::make(554, "5.7.1", std::string(600, 'x'));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->lines().size(), 2u);
  EXPECT_EQ(r->lines()[0].size(), 512u - 2 - 4 - 6);
  EXPECT_EQ(r->lines()[0].size() + r->lines()[1].size(), 600u);
}

TEST(Reply, AtMost32LinesAndSaysItWasCut) {
  auto r = Reply::make(554, "5.7.1", std::string(100000, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lines().size(), Reply::kMaxLines);
  EXPECT_EQ(r->lines().back().substr(r->lines().back().size() - 4), " ...");
}

TEST(Reply, PercentIsDoubledOnlyForLibmilter) {
  auto r = Reply::make(554, "5.7.1", "100% spam %s");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), "100% spam %s");
  EXPECT_EQ(r->milterLines().front(), "100%% spam %%s");
}

TEST(Reply, SoftBounceTurns5xxInto4xx) {
  auto r = Reply::make(554, "5.7.1", "blocked")->softened();
  EXPECT_EQ(r.code(), 454);
  EXPECT_EQ(r.enhanced(), "4.7.1");
  auto t = Reply::make(451, "4.7.1", "later")->softened();
  EXPECT_EQ(t.code(), 451);
}

}  // namespace
}  // namespace mxguard
