// fuzz_date.cpp - libFuzzer target: RFC 5322 date-time (obsolete forms too) and msg-id parsing.
// Invariant: a rejected value always says why; an accepted date leaves no problem behind.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stages/headers/rfc5322_syntax.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string problem;
  auto t = mxguard::stages::parseRfc5322Date(in, &problem);
  if (!t && problem.empty()) {
    std::fprintf(stderr, "parseRfc5322Date rejected without a problem\n");
    std::abort();
  }
  std::string idProblem;
  if (!mxguard::stages::isMsgId(in, &idProblem) && idProblem.empty()) {
    std::fprintf(stderr, "isMsgId rejected without a problem\n");
    std::abort();
  }
  return 0;
}
