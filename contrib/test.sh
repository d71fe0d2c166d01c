#!/usr/bin/env bash
# test.sh - install dependencies (Debian 12, incl. Postfix, nsd, swaks, miltertest), build with
# AddressSanitizer + UndefinedBehaviorSanitizer, run the whole test suite (unit, integration,
# conformance when ../shared/conformance exists).
# Must not: leave servers running: every test starts and stops its own on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash contrib/install-deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DMXGUARD_SANITIZE=ON >/dev/null
cmake --build build-test -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-test
ctest --output-on-failure --timeout 600
