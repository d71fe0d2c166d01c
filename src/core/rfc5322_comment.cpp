// rfc5322_comment.cpp - see rfc5322_comment.h.
// Must not: read past the end of the text when it ends in a lone backslash.
#include "core/rfc5322_comment.h"

namespace mxguard {

CommentScan scanComment(std::string_view text, size_t open, int maxDepth) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\') {
      ++i;  // quoted-pair: the next byte is literal
    } else if (c == '(') {
      if (++depth > maxDepth) return {CommentScan::Status::TooDeep, text.size()};
    } else if (c == ')') {
      if (--depth == 0) return {CommentScan::Status::Closed, i + 1};
    }
  }
  return {CommentScan::Status::Unterminated, text.size()};
}

}  // namespace mxguard
