// dkim_key_record.h - one repair of a DKIM key record before libopendkim reads it: RFC 6376
// 3.6.1 says an "rsa" p= holds a DER RSAPublicKey (PKCS#1), while practice (and libopendkim)
// uses SubjectPublicKeyInfo; a bare RSAPublicKey is wrapped into SubjectPublicKeyInfo so that
// records written to the letter of the RFC verify too.
// And one policy check on RSA keys, read from the DER before libopendkim verifies anything: the
// public exponent and the modulus size, which set what a verification costs (issue 28: a
// 2,600-bit exponent cost 4.9 ms per signature, 0.1 ms for e = 65537).
// Must not: change any other tag, or a key that is not a well-formed bare RSAPublicKey.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mxguard::stages {

// The record with p= rewritten when it is a bare PKCS#1 RSAPublicKey of k=rsa; else unchanged.
std::string normalizeKeyRecord(std::string_view record);

// RFC 8301 3.2: verifiers must handle 1024 to 4096 bits and MAY refuse larger keys; twice that
// still verifies in 0.3 ms, a 15360-bit key takes 0.85 ms (openssl speed, e = 65537).
inline constexpr size_t kMaxRsaBits = 8192;

// Why the RSA key of a (normalized) record is not accepted: a modulus over kMaxRsaBits, or a
// public exponent other than 65537 and 3, the only ones key generators use (OpenSSL,
// opendkim-genkey: 65537; some old software: 3). nullopt otherwise, and for a record whose p= is
// not a SubjectPublicKeyInfo we can read (libopendkim judges those; dkim_public_key_cache
// refuses such keys there too).
std::optional<std::string> refusedRsaKey(std::string_view record);

// Each test alone (for keys OpenSSL decoded); numbers as big-endian bytes, leading zeros allowed.
std::optional<std::string> refusedRsaModulusBits(size_t bits);
std::optional<std::string> refusedRsaExponentBytes(const unsigned char* e, size_t len);
size_t bitLength(const unsigned char* bytes, size_t len);

}  // namespace mxguard::stages
