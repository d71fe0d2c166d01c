// rfc5322_comment.h - the one scanner of RFC 5322 comments ("(...)", 3.2.2): they nest, and a
// quoted-pair ("\)") neither opens nor closes one; what else each reader keeps is its own affair.
// Must not: recurse or allocate: header text is the attacker's, the depth a counter.
#pragma once

#include <climits>
#include <cstddef>
#include <string_view>

namespace mxguard {

struct CommentScan {
  enum class Status { Closed, Unterminated, TooDeep };
  Status status = Status::Closed;
  // Closed: just past the ')' that closes the comment. Otherwise text.size().
  size_t end = 0;
};

// Scans the comment whose '(' is text[open]. Quoted strings mean nothing inside a comment.
// TooDeep as soon as more than maxDepth comments are open at once.
CommentScan scanComment(std::string_view text, size_t open, int maxDepth = INT_MAX);

}  // namespace mxguard
