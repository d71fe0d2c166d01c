// fuzz_rate_limit.cpp - libFuzzer target: one `limit = ...` value of the ratelimit stage.
// Invariants: a rejection names the problem; an accepted spec has a name, at least one key
// field, a finite positive rate and a finite non-negative burst, and prefixes in range.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stages/ratelimit/rate_limit_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto spec = mxguard::stages::parseRateLimit(in, &error);
  if (!spec) {
    if (error.empty()) {
      std::fprintf(stderr, "parseRateLimit rejected without an error\n");
      std::abort();
    }
    return 0;
  }
  bool ok = !spec->name.empty() && !spec->key.empty() && std::isfinite(spec->perSecond) &&
            spec->perSecond > 0 && std::isfinite(spec->burst) && spec->burst >= 0 &&
            spec->ipv4Prefix >= 0 && spec->ipv4Prefix <= 32 && spec->ipv6Prefix >= 0 &&
            spec->ipv6Prefix <= 128;
  if (!ok) {
    std::fprintf(stderr,
                 "parseRateLimit accepted an impossible spec: name='%s' keys=%zu "
                 "perSecond=%g burst=%g v4=/%d v6=/%d\n",
                 spec->name.c_str(), spec->key.size(), spec->perSecond, spec->burst,
                 spec->ipv4Prefix, spec->ipv6Prefix);
    std::abort();
  }
  (void)mxguard::stages::toString(spec->counted);
  return 0;
}
