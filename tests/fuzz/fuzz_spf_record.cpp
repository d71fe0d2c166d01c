// fuzz_spf_record.cpp - libFuzzer target: the RFC 7208 ABNF check and rewrite of one SPF record.
// Input is used as the record text ("v=spf1 " is prepended when it is not an SPF record, so the
// fuzzer spends its time in the checker). Invariants: an invalid record says why; a valid
// record's rewrite is itself an SPF record.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stages/spf/spf_record_syntax.h"

using namespace mxguard::stages;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string record(reinterpret_cast<const char*>(data), size);
  if (!isSpfRecord(record)) record = "v=spf1 " + record;
  if (!isSpfRecord(record)) return 0;
  for (bool v4 : {true, false}) {
    SpfRecordCheck c = checkSpfRecord(record, v4);
    if (!c.valid && c.error.empty()) {
      std::fprintf(stderr, "checkSpfRecord: invalid without an error\n");
      std::abort();
    }
    if (c.valid && !isSpfRecord(c.rewritten)) {
      std::fprintf(stderr, "checkSpfRecord: rewrite is not an SPF record: '%s'\n",
                   c.rewritten.c_str());
      std::abort();
    }
  }
  return 0;
}
