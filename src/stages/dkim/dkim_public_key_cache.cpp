// dkim_public_key_cache.cpp - see dkim_public_key_cache.h.
#include "stages/dkim/dkim_public_key_cache.h"

#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "stages/dkim/dkim_key_record.h"

namespace mxguard::stages {
namespace {

using D2iPubkeyBio = EVP_PKEY* (*)(BIO*, EVP_PKEY**);

D2iPubkeyBio opensslD2iPubkeyBio() {
  static D2iPubkeyBio real = reinterpret_cast<D2iPubkeyBio>(dlsym(RTLD_NEXT, "d2i_PUBKEY_bio"));
  return real;
}

struct KeyCache {
  std::mutex mutex;
  std::map<std::string, EVP_PKEY*> keys;  // DER bytes -> key (one reference held here)
};

KeyCache& cache() {
  static KeyCache* c = new KeyCache;  // never destroyed: libopendkim may still run at exit
  return *c;
}

// The key lookup refuses these keys with a reason; this catches a key whose DER it could not
// read (BER lengths OpenSSL tolerates), so that no such key is ever verified with.
bool isRefusedRsaKey(const EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) return false;
  if (refusedRsaModulusBits(static_cast<size_t>(EVP_PKEY_get_bits(key)))) return true;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1 || e == nullptr) return true;
  std::vector<unsigned char> bytes(static_cast<size_t>(BN_num_bytes(e)));
  BN_bn2bin(e, bytes.data());
  BN_free(e);
  return refusedRsaExponentBytes(bytes.data(), bytes.size()).has_value();
}

}  // namespace

size_t cachedDkimKeyCount() {
  std::lock_guard guard(cache().mutex);
  return cache().keys.size();
}

EVP_PKEY* decodePublicKey(BIO* bio, EVP_PKEY** out) {
  D2iPubkeyBio real = opensslD2iPubkeyBio();
  char* data = nullptr;
  long len = out == nullptr && bio != nullptr && BIO_method_type(bio) == BIO_TYPE_MEM
                 ? BIO_get_mem_data(bio, &data)
                 : 0;
  if (len <= 0 || data == nullptr) return real ? real(bio, out) : nullptr;
  std::string der(data, static_cast<size_t>(len));
  auto& c = cache();
  {
    std::lock_guard guard(c.mutex);
    auto it = c.keys.find(der);
    // The BIO stays unread: libopendkim frees it next and reads nothing more from it.
    if (it != c.keys.end() && EVP_PKEY_up_ref(it->second) == 1) return it->second;
  }
  EVP_PKEY* key = real ? real(bio, nullptr) : nullptr;
  if (key == nullptr) return nullptr;
  if (isRefusedRsaKey(key)) {
    EVP_PKEY_free(key);
    return nullptr;  // libopendkim: a key it cannot decode, so nothing is verified with it
  }
  std::lock_guard guard(c.mutex);
  if (c.keys.size() >= kMaxCachedDkimKeys) {
    for (auto& [bytes, k] : c.keys) EVP_PKEY_free(k);
    c.keys.clear();  // rare (512 signing keys): start again rather than track use
  }
  if (c.keys.count(der) == 0 && EVP_PKEY_up_ref(key) == 1) c.keys.emplace(std::move(der), key);
  return key;
}

}  // namespace mxguard::stages

extern "C" EVP_PKEY* d2i_PUBKEY_bio(BIO* bio, EVP_PKEY** out) {
  return mxguard::stages::decodePublicKey(bio, out);
}
