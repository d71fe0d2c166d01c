// dkim_key_record.h - one repair of a DKIM key record before libopendkim reads it: RFC 6376
// 3.6.1 says an "rsa" p= holds a DER RSAPublicKey (PKCS#1), while practice (and libopendkim)
// uses SubjectPublicKeyInfo; a bare RSAPublicKey is wrapped into SubjectPublicKeyInfo so that
// records written to the letter of the RFC verify too.
// Must not: change any other tag, or a key that is not a well-formed bare RSAPublicKey.
#pragma once

#include <string>
#include <string_view>

namespace mxguard::stages {

// The record with p= rewritten when it is a bare PKCS#1 RSAPublicKey of k=rsa; else unchanged.
std::string normalizeKeyRecord(std::string_view record);

}  // namespace mxguard::stages
