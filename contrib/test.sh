#!/usr/bin/env bash
# test.sh - install dependencies (Debian 12, incl. Postfix, nsd, swaks, miltertest), build with
# AddressSanitizer + UndefinedBehaviorSanitizer, run the whole test suite (unit, integration,
# conformance when ../shared/conformance exists), then list every test that skipped, with its
# reason (in CI a skip for a prerequisite this script installs is a failure: see tb_skip).
# Must not: leave servers running: every test starts and stops its own on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash contrib/install-deps.sh --test
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DMXGUARD_SANITIZE=ON >/dev/null
cmake --build build-test -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-test
set +e
# (Testing/ does not exist before ctest's first run: the copy goes next to it.)
ctest --output-on-failure --timeout 600 2>&1 | tee ctest-output.txt
rc=${PIPESTATUS[0]}
set -e
# Every skip, named with its reason ("SKIP: ..." from a script, "[  SKIPPED ]"/GTEST_SKIP's
# message from a gtest), so a CI summary shows what did not run and why.
awk '/^[0-9]+\/[0-9]+ Testing: / { test = $3; reason = "" }
     /: Skipped$/ { getline reason }
     /^SKIP: / && test != "" { print "  " test ": " substr($0, 7) }
     /^\[  SKIPPED \] / && test != "" { print "  " test ": " (reason != "" ? reason : "skipped") }' \
  Testing/Temporary/LastTest.log | sort -u > Testing/Temporary/skipped.txt || true
if [[ -s Testing/Temporary/skipped.txt ]]; then
  echo "Skipped in this run ($(cut -d: -f1 Testing/Temporary/skipped.txt | sort -u | wc -l) tests):"
  cat Testing/Temporary/skipped.txt
else
  echo "Skipped in this run: none"
fi
# The closing line, counted the way ctest counts (a skipped test is neither passed nor failed).
failed="" total=""
read -r failed total < <(sed -nE 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1 \2/p' \
  ctest-output.txt | tail -n 1) || true
skipped=$(cut -d: -f1 Testing/Temporary/skipped.txt | sort -u | wc -l)
if [[ -n "$total" ]]; then
  echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
fi
exit "$rc"
