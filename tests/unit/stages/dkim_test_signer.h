// dkim_test_signer.h - signs test messages at test time with libopendkim's dkim_sign and the
// keys of tests/fixtures/dkim (made by its generate.sh), and splits raw messages into header
// fields the way the milter front door delivers them (folded lines joined by LF).
// Must not: be used outside tests; the keys are test keys.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/connection.h"
#include "stages/dkim/dkim_lib.h"

namespace mxguard::testing {

inline std::string readFixture(const std::string& name) {
  std::ifstream in(std::string(MXGUARD_SOURCE_DIR) + "/tests/fixtures/dkim/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The TXT record of a fixture key ("v=DKIM1; k=rsa; p=...").
inline std::string keyRecord(const std::string& key) {
  std::string r = readFixture(key + ".txt");
  while (!r.empty() && (r.back() == '\n' || r.back() == '\r')) r.pop_back();
  return r;
}

struct RawMessage {
  std::vector<Header> headers;
  std::string body;
};

// "Name: value\r\n\tmore\r\n\r\nbody" -> fields (value lines joined by "\n", as libmilter
// gives them) and body. LF-only input is accepted too.
inline RawMessage splitMessage(const std::string& raw) {
  RawMessage m;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    if (eol == std::string::npos) eol = raw.size();
    std::string line = raw.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = eol + 1;
    if (line.empty()) {
      m.body = pos < raw.size() ? raw.substr(pos) : "";
      return m;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !m.headers.empty()) {
      m.headers.back().value += "\n" + line;
      continue;
    }
    size_t colon = line.find(':');
    Header h;
    h.name = line.substr(0, colon);
    std::string rest = colon == std::string::npos ? "" : line.substr(colon + 1);
    size_t ws = rest.find_first_not_of(" \t");
    h.leading = rest.substr(0, ws == std::string::npos ? rest.size() : ws);
    h.value = ws == std::string::npos ? "" : rest.substr(ws);
    m.headers.push_back(h);
  }
  return m;
}

struct SignOptions {
  std::string key = "rsa2048";
  std::string domain = "example.com";
  std::string selector = "sel";
  dkim_alg_t algorithm = DKIM_SIGN_RSASHA256;
  dkim_canon_t headerCanon = DKIM_CANON_RELAXED;
  dkim_canon_t bodyCanon = DKIM_CANON_RELAXED;
  uint64_t fixedTime = 0;  // t=; 0 = now
  uint64_t ttl = 0;        // x= = t= + ttl; 0 = no x=
};

// Returns the message with a DKIM-Signature field prepended (CRLF line endings).
inline std::string signMessage(const std::string& raw, const SignOptions& o = {}) {
  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  EXPECT_NE(lib, nullptr);
  unsigned int minBits = 512;  // the signer must be able to make the too-small-key cases
  EXPECT_EQ(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minBits, sizeof minBits),
            DKIM_STAT_OK);
  if (o.fixedTime) {
    uint64_t t = o.fixedTime;
    EXPECT_EQ(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &t, sizeof t), DKIM_STAT_OK);
  }
  if (o.ttl) {
    uint64_t ttl = o.ttl;
    EXPECT_EQ(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, &ttl, sizeof ttl),
              DKIM_STAT_OK);
  }
  std::string key = readFixture(o.key + ".pem");
  DKIM_STAT st = DKIM_STAT_OK;
  DKIM* d = dkim_sign(lib, reinterpret_cast<const u_char*>("test"), nullptr,
                      reinterpret_cast<dkim_sigkey_t>(key.data()),
                      reinterpret_cast<const u_char*>(o.selector.c_str()),
                      reinterpret_cast<const u_char*>(o.domain.c_str()), o.headerCanon, o.bodyCanon,
                      o.algorithm, -1, &st);
  EXPECT_NE(d, nullptr) << "dkim_sign: " << st;
  if (!d) {
    dkim_close(lib);
    return raw;
  }
  RawMessage m = splitMessage(raw);
  for (const auto& h : m.headers) {
    std::string field = h.name + ":" + h.leading + h.value;
    std::string crlf;
    for (char c : field) {
      if (c == '\n') crlf.push_back('\r');
      crlf.push_back(c);
    }
    EXPECT_EQ(dkim_header(d, reinterpret_cast<u_char*>(crlf.data()), crlf.size()), DKIM_STAT_OK);
  }
  EXPECT_EQ(dkim_eoh(d), DKIM_STAT_OK);
  std::string body;
  for (size_t i = 0; i < m.body.size(); ++i) {
    if (m.body[i] == '\n' && (i == 0 || m.body[i - 1] != '\r')) body.push_back('\r');
    body.push_back(m.body[i]);
  }
  if (!body.empty()) {
    EXPECT_EQ(dkim_body(d, reinterpret_cast<u_char*>(body.data()), body.size()), DKIM_STAT_OK);
  }
  EXPECT_EQ(dkim_eom(d, nullptr), DKIM_STAT_OK) << dkim_geterror(d);
  u_char* sig = nullptr;
  size_t len = 0;
  EXPECT_EQ(dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &sig, &len), DKIM_STAT_OK);
  std::string out = "DKIM-Signature: " + std::string(reinterpret_cast<char*>(sig), len) + "\r\n";
  dkim_free(d);
  dkim_close(lib);
  std::string crlfRaw;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) crlfRaw.push_back('\r');
    crlfRaw.push_back(raw[i]);
  }
  return out + crlfRaw;
}

}  // namespace mxguard::testing
