// dkim_key_record.cpp - just enough DER and base64 to recognise an RSAPublicKey
// (SEQUENCE { INTEGER, INTEGER }) and prefix the rsaEncryption AlgorithmIdentifier, and to find
// the exponent in a SubjectPublicKeyInfo.
// Must not: trust lengths it did not check; anything unexpected leaves the record as it was.
#include "stages/dkim/dkim_key_record.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/strings.h"

namespace mxguard::stages {
namespace {

using Bytes = std::vector<uint8_t>;
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// A table, not a search of the alphabet per character: every signature's key goes through here.
std::optional<Bytes> base64Decode(std::string_view in) {
  static const auto kValue = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kB64[i])] = static_cast<int8_t>(i);
    return t;
  }();
  Bytes out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = kValue[static_cast<unsigned char>(c)];
    if (v < 0) {
      if (c == '=' || std::isspace(static_cast<unsigned char>(c))) continue;
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string base64Encode(const Bytes& in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kB64[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = in[i] << 16;
    out += {kB64[(v >> 18) & 63], kB64[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (in[i] << 16) | (in[i + 1] << 8);
    out += {kB64[(v >> 18) & 63], kB64[(v >> 12) & 63], kB64[(v >> 6) & 63], '='};
  }
  return out;
}

// Reads a tag and definite length at `pos`; returns the content length and moves pos past it.
std::optional<size_t> derHeader(const Bytes& b, size_t& pos, uint8_t tag) {
  if (pos + 2 > b.size() || b[pos] != tag) return std::nullopt;
  size_t len = b[pos + 1];
  pos += 2;
  if (len & 0x80) {
    size_t n = len & 0x7f;
    if (n == 0 || n > 3 || pos + n > b.size()) return std::nullopt;
    len = 0;
    for (size_t i = 0; i < n; ++i) len = (len << 8) | b[pos++];
  }
  if (pos + len > b.size()) return std::nullopt;
  return len;
}

void derLength(Bytes& out, size_t len) {
  if (len < 0x80) {
    out.push_back(static_cast<uint8_t>(len));
    return;
  }
  Bytes digits;
  for (; len; len >>= 8) digits.insert(digits.begin(), static_cast<uint8_t>(len & 0xff));
  out.push_back(static_cast<uint8_t>(0x80 | digits.size()));
  out.insert(out.end(), digits.begin(), digits.end());
}

bool isBareRsaPublicKey(const Bytes& der) {
  size_t pos = 0;
  auto seq = derHeader(der, pos, 0x30);
  if (!seq || pos + *seq != der.size()) return false;
  auto n = derHeader(der, pos, 0x02);
  if (!n) return false;
  pos += *n;
  auto e = derHeader(der, pos, 0x02);
  return e && pos + *e == der.size();
}

Bytes wrapInSpki(const Bytes& rsaPublicKey) {
  static const Bytes kAlgorithm{0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
  Bytes bitString{0x03};
  derLength(bitString, rsaPublicKey.size() + 1);
  bitString.push_back(0x00);  // no unused bits
  bitString.insert(bitString.end(), rsaPublicKey.begin(), rsaPublicKey.end());
  Bytes out{0x30};
  derLength(out, kAlgorithm.size() + bitString.size());
  out.insert(out.end(), kAlgorithm.begin(), kAlgorithm.end());
  out.insert(out.end(), bitString.begin(), bitString.end());
  return out;
}

// Whether p= can be a bare RSAPublicKey, from its first bytes: SEQUENCE, then an INTEGER (a
// SubjectPublicKeyInfo has a SEQUENCE there). Why: libopendkim asks for the key of every
// signature, so the record is normalized for every message; decoding a 2048-bit key in full
// just to find the usual SubjectPublicKeyInfo cost ~25,000 instructions per message.
bool mayBeBareRsaPublicKey(std::string_view p) {
  auto head = base64Decode(p.substr(0, 24));   // >= 5 bytes unless p= is mostly spaces
  if (!head || head->size() < 5) return true;  // too little to tell: decode it all
  const Bytes& b = *head;
  if (b[0] != 0x30) return false;
  size_t next = (b[1] & 0x80) ? 2 + (b[1] & 0x7f) : 2;
  return next >= b.size() || b[next] == 0x02;
}

struct Span {
  size_t pos = 0, len = 0;
};

// The RSAPublicKey's modulus and exponent inside a SubjectPublicKeyInfo:
// SEQUENCE { SEQUENCE { algorithm }, BIT STRING { 0, SEQUENCE { INTEGER n, INTEGER e } } }.
std::optional<std::pair<Span, Span>> spkiModulusAndExponent(const Bytes& der) {
  size_t pos = 0;
  auto outer = derHeader(der, pos, 0x30);
  if (!outer) return std::nullopt;
  auto algorithm = derHeader(der, pos, 0x30);
  if (!algorithm) return std::nullopt;
  pos += *algorithm;
  auto bits = derHeader(der, pos, 0x03);
  if (!bits || *bits < 1 || der[pos] != 0x00) return std::nullopt;
  ++pos;
  auto key = derHeader(der, pos, 0x30);
  if (!key) return std::nullopt;
  auto n = derHeader(der, pos, 0x02);
  if (!n) return std::nullopt;
  Span modulus{pos, *n};
  pos += *n;
  auto e = derHeader(der, pos, 0x02);
  if (!e) return std::nullopt;
  return std::make_pair(modulus, Span{pos, *e});
}

// k= and where the (first) p= value is.
struct KeyTags {
  std::string keyType = "rsa";
  size_t pStart = std::string_view::npos, pEnd = 0;
};

KeyTags findKeyTags(std::string_view record) {
  KeyTags t;
  size_t pos = 0;
  while (pos <= record.size()) {
    size_t semi = record.find(';', pos);
    size_t end = semi == std::string_view::npos ? record.size() : semi;
    std::string_view item = record.substr(pos, end - pos);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string name = trim(item.substr(0, eq));
      if (name == "k") t.keyType = trim(item.substr(eq + 1));
      if (name == "p" && t.pStart == std::string_view::npos) {
        t.pStart = pos + eq + 1;
        t.pEnd = end;
      }
    }
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return t;
}

}  // namespace

std::string normalizeKeyRecord(std::string_view record) {
  auto [keyType, pStart, pEnd] = findKeyTags(record);
  if (pStart == std::string_view::npos || keyType != "rsa") return std::string(record);
  std::string_view p = record.substr(pStart, pEnd - pStart);
  if (!mayBeBareRsaPublicKey(p)) return std::string(record);
  auto der = base64Decode(p);
  if (!der || der->size() > 4096 || !isBareRsaPublicKey(*der)) return std::string(record);
  return std::string(record.substr(0, pStart)) + base64Encode(wrapInSpki(*der)) +
         std::string(record.substr(pEnd));
}

size_t bitLength(const unsigned char* bytes, size_t len) {
  while (len > 0 && *bytes == 0) ++bytes, --len;
  if (len == 0) return 0;
  size_t bits = len * 8;
  for (unsigned top = bytes[0]; (top & 0x80) == 0; top <<= 1) --bits;
  return bits;
}

std::optional<std::string> refusedRsaModulusBits(size_t bits) {
  if (bits <= kMaxRsaBits) return std::nullopt;
  return "RSA key of " + std::to_string(bits) + " bits is over " + std::to_string(kMaxRsaBits);
}

std::optional<std::string> refusedRsaExponentBytes(const unsigned char* e, size_t len) {
  const char* accepted = " not accepted (only 3 and 65537)";
  size_t bits = bitLength(e, len);
  if (bits > 32) return "RSA public exponent of " + std::to_string(bits) + " bits" + accepted;
  uint32_t v = 0;
  for (size_t i = 0; i < len; ++i) v = (v << 8) | e[i];
  if (v == 65537 || v == 3) return std::nullopt;
  return "RSA public exponent " + std::to_string(v) + accepted;
}

std::optional<std::string> refusedRsaKey(std::string_view record) {
  auto [keyType, pStart, pEnd] = findKeyTags(record);
  if (pStart == std::string_view::npos || keyType != "rsa") return std::nullopt;
  auto der = base64Decode(record.substr(pStart, pEnd - pStart));
  if (!der) return std::nullopt;
  auto key = spkiModulusAndExponent(*der);
  if (!key) return std::nullopt;
  auto [n, e] = *key;
  if (auto why = refusedRsaModulusBits(bitLength(der->data() + n.pos, n.len))) return why;
  return refusedRsaExponentBytes(der->data() + e.pos, e.len);
}

}  // namespace mxguard::stages
