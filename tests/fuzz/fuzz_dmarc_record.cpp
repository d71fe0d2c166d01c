// fuzz_dmarc_record.cpp - libFuzzer target: picking DMARC records out of TXT strings and parsing
// one (libopendmarc under the RFC 7489 6.3 tolerance rules). Input is the record text ("v=DMARC1; "
// is prepended when it is not a DMARC record). Invariants: no record means a stated problem; a
// record has a p= of the three words, pct in 0-100 and r/s alignment modes.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "stages/dmarc/dmarc_record.h"

using namespace mxguard::stages;

namespace {
void fail(const char* what, const std::string& input) {
  std::fprintf(stderr, "parseDmarcRecord: %s for '%s'\n", what, input.c_str());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (dmarcRecordsOf({text}).empty()) text = "v=DMARC1; " + text;
  if (dmarcRecordsOf({text}).size() != 1) return 0;
  DmarcRecordParse r = parseDmarcRecord(text);
  if (!r.record) {
    if (r.problem.empty()) fail("no record and no problem", text);
    return 0;
  }
  const DmarcRecord& rec = *r.record;
  if (rec.p != "none" && rec.p != "quarantine" && rec.p != "reject") fail("bad p", text);
  if (!rec.sp.empty() && rec.sp != "none" && rec.sp != "quarantine" && rec.sp != "reject")
    fail("bad sp", text);
  if (rec.pct < 0 || rec.pct > 100) fail("pct out of range", text);
  if ((rec.adkim != 'r' && rec.adkim != 's') || (rec.aspf != 'r' && rec.aspf != 's'))
    fail("bad alignment mode", text);
  return 0;
}
