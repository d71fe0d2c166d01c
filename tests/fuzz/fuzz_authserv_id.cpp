// fuzz_authserv_id.cpp - libFuzzer target: authserv-id of an Authentication-Results value, and the
// formatter with outside values. Invariants: an authserv-id is non-empty, and a token-form id
// has no CR, LF or NUL; the formatted field holds no bare control bytes besides the LF+TAB folding.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/auth_results.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto id = mxguard::authservIdOf(in);
  if (id && id->empty()) {
    std::fprintf(stderr, "authservIdOf returned an empty id\n");
    std::abort();
  }
  // No id with CR, LF or NUL, in either form (the quoted form was fixed after this target found
  // it: "\"a\nb\"; none").
  if (id && id->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    std::fprintf(stderr, "authservIdOf returned an id with CR/LF/NUL\n");
    std::abort();
  }
  // The same bytes as outside values in the formatter (reason, property value).
  size_t half = size / 2;
  mxguard::AuthResult r;
  r.method = "dkim";
  r.result = "fail";
  r.reason = std::string(in.substr(0, half));
  r.properties.push_back({"header.d", std::string(in.substr(half))});
  std::string out = mxguard::formatAuthenticationResults(id ? *id : "mx.example.net", {r});
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = out[i];
    bool folding = c == '\n' && i + 1 < out.size() && out[i + 1] == '\t';
    bool tabAfterLf = c == '\t' && i > 0 && out[i - 1] == '\n';
    if ((c < 0x20 || c == 0x7f) && !folding && !tabAfterLf) {
      std::fprintf(stderr, "formatAuthenticationResults left control byte 0x%02x at %zu\n", c, i);
      std::abort();
    }
  }
  return 0;
}
