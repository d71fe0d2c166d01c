// rfc5322_comment_test.cpp - the one comment scanner: nesting, quoted-pairs, quotes that mean
// nothing inside a comment, the depth cap, and the end of text (a lone trailing backslash too).
#include "core/rfc5322_comment.h"

#include <gtest/gtest.h>

#include <string>

namespace mxguard {
namespace {

using Status = CommentScan::Status;

TEST(Rfc5322Comment, EndsJustPastTheClosingParenthesis) {
  std::string_view t = "a (b (c) d) e";
  CommentScan s = scanComment(t, 2);
  EXPECT_EQ(s.status, Status::Closed);
  EXPECT_EQ(t.substr(s.end), " e");
}

TEST(Rfc5322Comment, QuotedPairsNeitherOpenNorClose) {
  std::string_view t = R"((a \) b \( c) d)";
  CommentScan s = scanComment(t, 0);
  EXPECT_EQ(s.status, Status::Closed);
  EXPECT_EQ(t.substr(s.end), " d");
}

TEST(Rfc5322Comment, QuotesMeanNothingInside) {
  std::string_view t = R"((say "no) more)";
  CommentScan s = scanComment(t, 0);
  EXPECT_EQ(s.status, Status::Closed);
  EXPECT_EQ(t.substr(s.end), " more");
}

TEST(Rfc5322Comment, UnterminatedRunsToTheEnd) {
  for (std::string_view t : {"(a (b) c", "(a \\", "(", "(a \\)"}) {
    CommentScan s = scanComment(t, 0);
    EXPECT_EQ(s.status, Status::Unterminated) << t;
    EXPECT_EQ(s.end, t.size()) << t;
  }
}

TEST(Rfc5322Comment, DepthCapCountsOpenComments) {
  std::string twenty = std::string(20, '(') + std::string(20, ')');
  EXPECT_EQ(scanComment(twenty, 0, 20).status, Status::Closed);
  std::string deeper = "(" + twenty + ")";
  CommentScan s = scanComment(deeper, 0, 20);
  EXPECT_EQ(s.status, Status::TooDeep);
  EXPECT_EQ(s.end, deeper.size());
  // Without a cap, any depth closes.
  EXPECT_EQ(scanComment(std::string(5000, '(') + std::string(5000, ')'), 0).status, Status::Closed);
}

}  // namespace
}  // namespace mxguard
