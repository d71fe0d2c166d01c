// fuzz_smtp_reply.cpp - libFuzzer target: the SMTP reply parser of the callout probe
// (smtp::parseReply, what SmtpConnection::readReply runs on what it receives).
// Input: first byte picks how the rest arrives (chunks of 1..4096 octets, as recv() would hand
// it out, at least 1/256 of the input); the rest is what the server sends. Replies are read one
// after another until the input ends or one is Garbage. Invariants: a Complete reply has a code
// 100..999 and 1..kMaxReplyLines lines of at most kMaxReplyLine octets; Garbage always says why;
// every step consumes input or asks for more (the loop terminates); the buffer never holds more
// than kMaxReplyLine + one chunk; and the outcome does not depend on how the input was chunked.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "smtp/smtp_connection.h"

namespace {

using mxguard::smtp::kMaxReplyLine;
using mxguard::smtp::kMaxReplyLines;
using mxguard::smtp::ReplyParse;
using mxguard::smtp::SmtpReply;

struct Outcome {
  ReplyParse status;
  int code;
  std::vector<std::string> lines;
  bool operator==(const Outcome&) const = default;
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_smtp_reply: %s\n", what);
  std::abort();
}

std::vector<Outcome> readAll(const std::string& input, size_t chunk) {
  std::vector<Outcome> out;
  std::string buffer;
  size_t fed = 0;
  size_t steps = 0;
  SmtpReply reply;
  while (true) {
    if (++steps > 2 * input.size() + 4) fail("the parse loop does not terminate");
    std::string error;
    size_t before = buffer.size();
    ReplyParse s = mxguard::smtp::parseReply(buffer, &reply, &error);
    if (s == ReplyParse::NeedMore) {
      if (fed == input.size()) break;  // the server closed the connection
      size_t n = std::min(chunk, input.size() - fed);
      buffer.append(input, fed, n);
      fed += n;
      if (buffer.size() > kMaxReplyLine + chunk) fail("buffer grew past one line and one chunk");
      continue;
    }
    if (s == ReplyParse::Garbage) {
      if (error.empty()) fail("Garbage without a reason");
      out.push_back({s, 0, {}});
      break;
    }
    if (buffer.size() >= before) fail("a Complete reply consumed nothing");
    if (reply.code < 100 || reply.code > 999) fail("a Complete reply without a 3-digit code");
    if (reply.lines.empty() || reply.lines.size() > kMaxReplyLines)
      fail("a Complete reply with no lines or too many");
    for (const auto& l : reply.lines)
      if (l.size() > kMaxReplyLine) fail("a reply line longer than kMaxReplyLine");
    out.push_back({s, reply.code, reply.lines});
    reply = SmtpReply{};
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const size_t kChunks[] = {1, 2, 3, 5, 17, 100, 511, 1024, 4000, 4096};
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  // At most ~256 chunks: parseReply searches the whole buffer on every call, so 1-octet chunks
  // of a 5 KB input cost 5000 searches of up to 4 KB and would make the target 10 times slower.
  size_t chunk =
      std::max(kChunks[data[0] % (sizeof kChunks / sizeof kChunks[0])], input.size() / 256);
  auto chunked = readAll(input, chunk);
  auto whole = readAll(input, input.size() ? input.size() : 1);
  if (chunked != whole) fail("the outcome depends on how the input was chunked");
  return 0;
}
