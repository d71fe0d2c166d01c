// fuzz_check.h - what the targets that judge reply text share: report a broken invariant as a
// crash (so libFuzzer keeps the input), and "printable ASCII" as an SMTP reply line must be.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fuzz {

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "%s: '%s'\n", what, detail.c_str());
  std::abort();
}

inline bool printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace fuzz
