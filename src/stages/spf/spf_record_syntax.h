// spf_record_syntax.h - RFC 7208 section 12 ABNF check of one SPF record, and the rewrite that
// lets libspf2 evaluate it as RFC 7208 says (libspf2 1.2.10 predates the RFC and is too lax in
// some places, too strict in others; see ../shared/conformance/spf/LIBSPF2-BASELINE.md).
// Must not: do DNS or evaluate anything; it is a pure function of the record text.
#pragma once

#include <string>
#include <string_view>

namespace mxguard::stages {

struct SpfRecordCheck {
  bool valid = false;
  std::string error;  // why the record is a permerror: "unknown mechanism 'foo'", ...
  // The record as libspf2 should compile it: unknown modifiers dropped (RFC 7208 6: ignored),
  // redirect= moved last and dropped when "all" is present (6.1), CIDR /0 written as two
  // halves, a//mx with a /0 for the client's family marked for the DNS layer.
  std::string rewritten;
};

// Whether `txt` is an SPF record at all (4.5: "v=spf1" then SP or end, case-insensitive).
bool isSpfRecord(std::string_view txt);

// Marker appended to a/mx domain-specs whose CIDR for the client's family is /0: the DNS layer
// answers a marked A/AAAA lookup with the client's own address when the name has any address,
// which is what "/0" means, and libspf2 then matches it with a full-length prefix.
inline constexpr std::string_view kCidrZeroMarker = ".cidrzero.mxguardinternal";

// Checks `record` (which isSpfRecord) against the ABNF; `clientIsV4` picks which CIDR of a
// dual-cidr-length applies.
SpfRecordCheck checkSpfRecord(std::string_view record, bool clientIsV4);

}  // namespace mxguard::stages
