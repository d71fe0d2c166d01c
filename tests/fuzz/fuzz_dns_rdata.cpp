// fuzz_dns_rdata.cpp - libFuzzer target: presentation of DNS answer rdata
// (dns/rdata_presentation.h), what UnboundResolver turns every A/AAAA/PTR/CNAME/NS/MX/TXT record
// from libunbound into. Input: first byte selects the type (A, AAAA, PTR, CNAME, NS, MX, TXT, SOA,
// other), the rest is the rdata, copied to a buffer of exactly its size so ASan sees any read past
// it. Invariants: A/AAAA present only at 4/16 octets and reparse to the same bytes; a name is
// rejected or printable ASCII in dot-separated labels of 1..63 octets (MX: "PREF NAME", PREF the
// first two octets); TXT is exactly the character-strings concatenated (raw bytes kept, as
// documented: callers sanitize() what they show) and its sanitize() form has no CR, LF or NUL.
#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/reply.h"
#include "core/resolver.h"
#include "dns/rdata_presentation.h"

namespace {

using mxguard::dns::RrType;

[[noreturn]] void fail(const char* what, const std::string& got) {
  std::fprintf(stderr, "fuzz_dns_rdata: %s (got %zu octets: '%s')\n", what, got.size(),
               mxguard::sanitize(got).c_str());
  std::abort();
}

void checkName(const std::string& name) {
  if (name.size() > 253) fail("name longer than 255 octets in wire form", name);
  size_t label = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == '.') {
      if (label == 0 || i + 1 == name.size()) fail("empty label in a name", name);
      label = 0;
    } else if (c < 0x21 || c > 0x7e) {
      fail("non-printable byte in a name", name);
    } else if (++label > 63) {
      fail("label over 63 octets", name);
    }
  }
}

// The reference TXT decoding: <length><octets> strings, the last one cut at the end.
std::string referenceTxt(const unsigned char* p, size_t len) {
  std::string out;
  size_t i = 0;
  while (i < len) {
    size_t l = p[i];
    ++i;
    size_t take = l < len - i ? l : len - i;
    out.append(reinterpret_cast<const char*>(p) + i, take);
    i += take;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const int kTypes[] = {static_cast<int>(RrType::A),
                               static_cast<int>(RrType::AAAA),
                               static_cast<int>(RrType::PTR),
                               static_cast<int>(RrType::CNAME),
                               static_cast<int>(RrType::NS),
                               static_cast<int>(RrType::MX),
                               static_cast<int>(RrType::TXT),
                               static_cast<int>(RrType::SOA),
                               99 /* SPF, not presented */};
  int type = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  size_t len = size - 1;
  // Exactly len octets on the heap (none for len 0), so any read past the rdata is reported.
  std::unique_ptr<unsigned char[]> rdata(new unsigned char[len]);
  if (len) std::memcpy(rdata.get(), data + 1, len);
  const unsigned char* p = rdata.get();

  auto out = mxguard::dns::presentRdata(type, p, len);
  switch (static_cast<RrType>(type)) {
    case RrType::A:
    case RrType::AAAA: {
      bool v4 = type == static_cast<int>(RrType::A);
      size_t want = v4 ? 4 : 16;
      if (!out) {
        if (len == want) fail("a valid-length address was rejected", "");
        break;
      }
      if (len != want) fail("an address of the wrong length was presented", *out);
      unsigned char back[16];
      if (inet_pton(v4 ? AF_INET : AF_INET6, out->c_str(), back) != 1 ||
          std::memcmp(back, p, want) != 0)
        fail("address text does not parse back to the rdata", *out);
      break;
    }
    case RrType::PTR:
    case RrType::CNAME:
    case RrType::NS:
      if (out) checkName(*out);
      break;
    case RrType::MX: {
      if (!out) break;
      if (len < 3) fail("MX rdata under 3 octets was presented", *out);
      std::string pref = std::to_string((p[0] << 8) | p[1]) + " ";
      if (out->compare(0, pref.size(), pref) != 0)
        fail("MX does not start with its preference", *out);
      checkName(out->substr(pref.size()));
      break;
    }
    case RrType::TXT: {
      if (!out) fail("TXT rdata was rejected", "");
      if (*out != referenceTxt(p, len)) fail("TXT is not the character-strings concatenated", *out);
      std::string shown = mxguard::sanitize(*out);
      if (shown.size() != out->size() ||
          shown.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
        fail("sanitize() of a TXT record keeps CR, LF or NUL", shown);
      break;
    }
    default:
      if (!out || !out->empty())
        fail("SOA or unknown type presented as something", out ? *out : "");
  }
  // A presented name's wire form (its labels and the root label) fits in the rdata.
  if (out &&
      (type == static_cast<int>(RrType::PTR) || type == static_cast<int>(RrType::NS) ||
       type == static_cast<int>(RrType::CNAME)) &&
      (out->empty() ? 1 : out->size() + 2) > len)
    fail("a name longer than its rdata", *out);
  return 0;
}
