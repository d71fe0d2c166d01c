// fuzz_host_name.cpp - libFuzzer target: RFC 5321 Domain syntax of HELO names.
// Invariants: an accepted name is non-empty and holds only letters, digits, '-' and '.'.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "stages/host_name_syntax.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto problem = mxguard::stages::hostNameProblem(in);
  if (problem) {
    if (problem->empty()) {
      std::fprintf(stderr, "hostNameProblem: empty problem text\n");
      std::abort();
    }
    return 0;
  }
  if (in.empty()) {
    std::fprintf(stderr, "hostNameProblem accepted the empty name\n");
    std::abort();
  }
  for (unsigned char c : in)
    if (!std::isalnum(c) && c != '-' && c != '.') {
      std::fprintf(stderr, "hostNameProblem accepted byte 0x%02x\n", c);
      std::abort();
    }
  return 0;
}
