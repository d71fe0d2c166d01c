// rdata_presentation.h - rdata of an answer (as libunbound hands it out) to the presentation form
// LookupResult::records documents; in its own file so it can be fuzzed without a resolver.
// Must not: depend on libunbound; read outside the rdata it is given.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace mxguard::dns {

// An uncompressed wire-format name starting at `offset` of p[0..len) ("host.example.net", no
// trailing dot; the root name is ""). nullopt for a malformed name (a label over 63 octets or
// past the end, no terminating root label, over 255 octets in all) and for a label with a byte
// outside printable ASCII
// (0x21..0x7e) or a '.', which could not be told apart from a label boundary.
std::optional<std::string> wireName(const unsigned char* p, size_t len, size_t offset);

// One record's rdata of type `type` (an RrType value) in presentation form:
//   A, AAAA   inet_ntop text; nullopt unless len is 4 (A) or 16 (AAAA)
//   PTR, CNAME, NS   wireName(); nullopt when wireName() rejects the name
//   MX   "PREF NAME", e.g. "10 mx.example.net" ("0 " for a null MX); nullopt when len < 3 or the
//        name is rejected
//   TXT  the character-strings concatenated, raw bytes (CR, LF, NUL and 8-bit bytes kept: SPF and
//        DKIM parse them as published; reply text and logs sanitize() them); a last string
//        running past the end is cut at the end
//   SOA and any other type  ""
// nullopt: the record cannot be presented and is left out of the answer.
std::optional<std::string> presentRdata(int type, const unsigned char* p, size_t len);

}  // namespace mxguard::dns
