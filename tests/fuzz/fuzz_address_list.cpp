// fuzz_address_list.cpp - libFuzzer target: RFC 5322 mailbox-list (From) with and without UTF-8.
// Invariants: a rejection says why; whatever ASCII-only mail accepts, SMTPUTF8 mail accepts too.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stages/headers/rfc5322_syntax.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string p1, p2;
  bool ascii = mxguard::stages::isMailboxList(in, false, &p1);
  bool utf8 = mxguard::stages::isMailboxList(in, true, &p2);
  if ((!ascii && p1.empty()) || (!utf8 && p2.empty())) {
    std::fprintf(stderr, "isMailboxList rejected without a problem\n");
    std::abort();
  }
  if (ascii && !utf8) {
    std::fprintf(stderr, "accepted without UTF-8 but rejected with it: %s\n", p2.c_str());
    std::abort();
  }
  return 0;
}
