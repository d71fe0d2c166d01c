// dkim_public_key_cache_test.cpp - the d2i_PUBKEY_bio in our executables: same DER, same key
// (decoded once); other DER, other key; failures and the `out` form are OpenSSL's own.
#include "stages/dkim/dkim_public_key_cache.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <string>

namespace mxguard::stages {
namespace {

std::string derOf(EVP_PKEY* key) {
  unsigned char* buf = nullptr;
  int len = i2d_PUBKEY(key, &buf);
  std::string der(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
  OPENSSL_free(buf);
  return der;
}

// Decodes like libopendkim: a read-only memory BIO over the DER bytes, freed right after.
EVP_PKEY* decode(const std::string& der, EVP_PKEY** out = nullptr) {
  BIO* bio = BIO_new_mem_buf(der.data(), static_cast<int>(der.size()));
  EVP_PKEY* key = d2i_PUBKEY_bio(bio, out);
  BIO_free(bio);
  return key;
}

TEST(DkimPublicKeyCache, TheSameKeyIsDecodedOnceAndSharedByReference) {
  EVP_PKEY* original = EVP_RSA_gen(1024);
  ASSERT_NE(original, nullptr);
  std::string der = derOf(original);
  size_t before = cachedDkimKeyCount();
  EVP_PKEY* first = decode(der);
  EVP_PKEY* second = decode(der);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, second);
  EXPECT_EQ(cachedDkimKeyCount(), before + 1);
  EXPECT_EQ(EVP_PKEY_eq(first, original), 1);
  // Each caller frees its own reference (as libopendkim does); the cache keeps one.
  EVP_PKEY_free(first);
  EVP_PKEY_free(second);
  EVP_PKEY* third = decode(der);
  EXPECT_EQ(EVP_PKEY_eq(third, original), 1);
  EVP_PKEY_free(third);
  EVP_PKEY_free(original);
}

TEST(DkimPublicKeyCache, AnotherKeyGetsItsOwnEntry) {
  EVP_PKEY* a = EVP_RSA_gen(1024);
  EVP_PKEY* b = EVP_RSA_gen(1024);
  EVP_PKEY* da = decode(derOf(a));
  EVP_PKEY* db = decode(derOf(b));
  EXPECT_NE(da, db);
  EXPECT_EQ(EVP_PKEY_eq(da, a), 1);
  EXPECT_EQ(EVP_PKEY_eq(db, b), 1);
  EXPECT_NE(EVP_PKEY_eq(db, a), 1);
  for (EVP_PKEY* k : {a, b, da, db}) EVP_PKEY_free(k);
}

TEST(DkimPublicKeyCache, GarbageIsNotAKeyAndIsNotKept) {
  size_t before = cachedDkimKeyCount();
  EXPECT_EQ(decode(std::string("\x30\x03\x02\x01\x00", 5)), nullptr);
  EXPECT_EQ(decode("not a key at all"), nullptr);
  EXPECT_EQ(cachedDkimKeyCount(), before);
}

TEST(DkimPublicKeyCache, TheOutFormIsOpenSslsOwn) {
  EVP_PKEY* original = EVP_RSA_gen(1024);
  std::string der = derOf(original);
  EVP_PKEY* cached = decode(der);
  EVP_PKEY* out = nullptr;
  EVP_PKEY* got = decode(der, &out);
  EXPECT_EQ(got, out);
  EXPECT_NE(got, cached);  // decoded afresh, not the shared one
  EXPECT_EQ(EVP_PKEY_eq(got, original), 1);
  for (EVP_PKEY* k : {original, cached, got}) EVP_PKEY_free(k);
}

// The backstop behind the key lookup's check: a key with an unusual exponent is never handed to
// libopendkim, however its DER reached the decoder.
TEST(DkimPublicKeyCache, RsaKeysWithAnExponentOtherThan3Or65537AreNotReturned) {
  for (unsigned e : {65537u, 3u, 17u, 5u}) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr);
    EVP_PKEY* original = nullptr;
    BIGNUM* exponent = BN_new();
    BN_set_word(exponent, e);
    ASSERT_EQ(EVP_PKEY_keygen_init(ctx), 1);
    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 1024);
    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, exponent);
    ASSERT_EQ(EVP_PKEY_keygen(ctx, &original), 1);
    size_t before = cachedDkimKeyCount();
    EVP_PKEY* key = decode(derOf(original));
    if (e == 65537 || e == 3) {
      EXPECT_NE(key, nullptr) << e;
      EXPECT_EQ(cachedDkimKeyCount(), before + 1) << e;
    } else {
      EXPECT_EQ(key, nullptr) << e;
      EXPECT_EQ(cachedDkimKeyCount(), before) << e;
    }
    EVP_PKEY_free(key);
    EVP_PKEY_free(original);
    BN_free(exponent);
    EVP_PKEY_CTX_free(ctx);
  }
}

}  // namespace
}  // namespace mxguard::stages
