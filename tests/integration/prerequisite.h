// prerequisite.h - MXGUARD_REQUIRE(have, what): a test whose prerequisite is missing is skipped
// with the reason, except in CI (CI=true), where the README's test command installed it and a
// skip would hide a missing install step: there it fails.
// Must not: be used for anything the test command does not install.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace mxguard::testing {

inline bool inCi() {
  const char* ci = std::getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

}  // namespace mxguard::testing

#define MXGUARD_REQUIRE(have, what)                                                     \
  do {                                                                                  \
    if (!(have)) {                                                                      \
      if (::mxguard::testing::inCi())                                                   \
        GTEST_FAIL() << what << " (in CI: contrib/install-deps.sh --test installs it)"; \
      GTEST_SKIP() << what;                                                             \
    }                                                                                   \
  } while (0)
