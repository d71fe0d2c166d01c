// smtp_connection_test.cpp - the reply parser of SmtpConnection::readReply (parseReply), without
// a socket; fuzz_smtp_reply checks the same rules on generated input.
#include "smtp/smtp_connection.h"

#include <gtest/gtest.h>

#include <string>

namespace mxguard::smtp {
namespace {

TEST(ParseReply, MultiLineReplyAndWhatFollowsIt) {
  std::string buffer = "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n221 Bye\r\n";
  SmtpReply reply;
  std::string error;
  ASSERT_EQ(parseReply(buffer, &reply, &error), ReplyParse::Complete);
  EXPECT_EQ(reply.code, 250);
  EXPECT_EQ(reply.lines, (std::vector<std::string>{"mx.example.net", "PIPELINING", "8BITMIME"}));
  EXPECT_EQ(buffer, "221 Bye\r\n");
}

TEST(ParseReply, APartialReplyAsksForMore) {
  std::string buffer = "250-first\r\n250 sec";
  SmtpReply reply;
  std::string error;
  EXPECT_EQ(parseReply(buffer, &reply, &error), ReplyParse::NeedMore);
  buffer += "ond\r\n";
  ASSERT_EQ(parseReply(buffer, &reply, &error), ReplyParse::Complete);
  EXPECT_EQ(reply.text(), "first second");
}

TEST(ParseReply, MalformedLinesAndChangingCodesAreGarbage) {
  for (std::string in : {"HTTP/1.1 400 Bad\r\n", "25 x\r\n", "250x\r\n", "250-a\r\n550 b\r\n"}) {
    SmtpReply reply;
    std::string error;
    EXPECT_EQ(parseReply(in, &reply, &error), ReplyParse::Garbage) << in;
    EXPECT_FALSE(error.empty());
  }
}

// Regression (fuzz_smtp_reply): "000" passed as a code, and since code 0 means "none yet" the next
// line could change it: "000-x" + "250 ok" was read as a 250 reply.
TEST(ParseReply, CodeZeroIsGarbage) {
  std::string buffer = "000-x\r\n250 ok\r\n";
  SmtpReply reply;
  std::string error;
  EXPECT_EQ(parseReply(buffer, &reply, &error), ReplyParse::Garbage);
}

// Regression (fuzz_smtp_reply): the line cap was only checked while no LF had arrived, so a line
// whose LF came in the same read as its 4097th octet was kept, up to 8 KB (two reads).
TEST(ParseReply, LineOverTheCapIsGarbageWhereverItsLfArrives) {
  std::string line = "250 " + std::string(kMaxReplyLine, 'x') + "\r\n";
  std::string buffer = line.substr(0, kMaxReplyLine);
  SmtpReply reply;
  std::string error;
  ASSERT_EQ(parseReply(buffer, &reply, &error), ReplyParse::NeedMore);
  buffer += line.substr(kMaxReplyLine);
  EXPECT_EQ(parseReply(buffer, &reply, &error), ReplyParse::Garbage);
  std::string atCap = "250 " + std::string(kMaxReplyLine - 5, 'x') + "\r\n";  // 4096 before LF
  reply = SmtpReply{};
  EXPECT_EQ(parseReply(atCap, &reply, &error), ReplyParse::Complete);
}

TEST(ParseReply, LinesPastTheLimitAreReadAndDropped) {
  std::string buffer;
  for (size_t i = 0; i < kMaxReplyLines + 10; ++i) buffer += "250-line\r\n";
  buffer += "250 end\r\n";
  SmtpReply reply;
  std::string error;
  ASSERT_EQ(parseReply(buffer, &reply, &error), ReplyParse::Complete);
  EXPECT_EQ(reply.lines.size(), kMaxReplyLines);
  EXPECT_TRUE(buffer.empty());
}

}  // namespace
}  // namespace mxguard::smtp
