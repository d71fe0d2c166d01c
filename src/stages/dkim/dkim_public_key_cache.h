// dkim_public_key_cache.h - keeps the public keys libopendkim decodes, so each is decoded once.
// Why: libopendkim calls d2i_PUBKEY_bio() for every signature it verifies, and OpenSSL 3.0's
// decoder builds its decoder chain anew on every call: ~1,000,000 instructions per message
// (callgrind, bench/callgrind.sh), three times the RSA verification itself. libopendkim has no
// way to hand it a decoded key, so this file defines d2i_PUBKEY_bio in our executables; the
// dynamic linker binds libopendkim's calls to it (the executable comes first in symbol lookup).
// It serves a memory BIO's DER bytes from a cache of EVP_PKEYs (shared by reference count, as
// EVP_PKEY_free expects), and hands everything else to OpenSSL's own function. An RSA key whose
// public exponent is not 65537 or 3, or of more than kMaxRsaBits, is not returned at all (issue
// 28: verifying with a 2,600-bit exponent costs 50 times the usual; dkim_key_lookup refuses
// those first, with a reason).
// Must not: return a key for other bytes than it was decoded from, cache a failed decode, or
// hold more than kMaxCachedDkimKeys keys.
#pragma once

#include <cstddef>

namespace mxguard::stages {

inline constexpr size_t kMaxCachedDkimKeys = 512;

// Keys decoded so far and kept (tests; the stage calls it so the linker keeps this file).
size_t cachedDkimKeyCount();

}  // namespace mxguard::stages
