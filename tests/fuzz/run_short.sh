#!/usr/bin/env bash
# run_short.sh - the short fuzz run of CI (ctest -L reliability): builds the libFuzzer targets with
# clang in a build directory of its own, then runs each over its seed corpus (tests/fuzz/corpus/)
# plus MXGUARD_FUZZ_RUNS (default 20000) generated inputs. Fails on any crash, leak, timeout or
# sanitizer report; exits 77 (ctest SKIP) when clang++ or libFuzzer is missing.
# Usage: run_short.sh [BUILD_DIR_UNUSED]   (the argument is accepted and ignored)
# Environment: MXGUARD_FUZZ_BUILD_DIR (default /tmp/mxguard-fuzz-short-UID-HASH), MXGUARD_FUZZ_RUNS,
# MXGUARD_FUZZ_JOBS (build parallelism, default nproc), CXX (default clang++).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
cxx="${CXX:-clang++}"
case "$cxx" in *clang*) ;; *) cxx=clang++ ;; esac
runs="${MXGUARD_FUZZ_RUNS:-20000}"
jobs="${MXGUARD_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"
targets=(fuzz_date fuzz_address_list fuzz_spf_record fuzz_reply_template fuzz_host_name
         fuzz_rate_limit fuzz_config fuzz_authserv_id fuzz_message fuzz_dns_rdata
         fuzz_smtp_reply fuzz_dmarc_record fuzz_milter_callbacks fuzz_map)
start=$(date +%s)

# In CI the test command installs clang: a missing one fails (a skip would hide that).
skip() {
  if [[ "${CI:-}" == true ]]; then echo "FAIL: $* (in CI: contrib/install-deps.sh --test installs it)"; exit 1; fi
  echo "SKIP: $*"
  exit 77
}
if ! command -v "$cxx" >/dev/null 2>&1; then
  skip "$cxx not found; the fuzz targets need clang with libFuzzer (apt-get install clang)"
fi
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <cstdint>' '#include <cstddef>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' > "$probe/p.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" >"$probe/log" 2>&1; then
  sed 's/^/  /' "$probe/log" | head -5
  skip "$cxx cannot link -fsanitize=fuzzer,address,undefined (libFuzzer missing?)"
fi

hash="$(printf '%s' "$src" | cksum | cut -d' ' -f1)"
build="${MXGUARD_FUZZ_BUILD_DIR:-/tmp/mxguard-fuzz-short-$(id -u)-$hash}"
echo "== fuzz build: $src -> $build ($cxx, -j$jobs)"
if ! cmake -S "$src" -B "$build" -DMXGUARD_FUZZ=ON -DMXGUARD_TESTS=OFF \
     -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1; then
  echo "FAIL: configure failed; see $build.configure.log"; tail -20 "$build.configure.log"; exit 1
fi
if ! cmake --build "$build" --target fuzz_all -j"$jobs" >"$build.build.log" 2>&1; then
  echo "FAIL: build failed; see $build.build.log"; grep -E 'error' "$build.build.log" | head -20
  exit 1
fi
echo "== built in $(( $(date +%s) - start ))s"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
work="$build/fuzz-short-run"
rm -rf "$work"
failed=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/$t"
  seeds="$here/corpus/$t"
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  extra=()
  [ "$t" = fuzz_message ] && extra=(-max_len=16384)
  t0=$(date +%s)
  # New inputs go to the scratch corpus (first directory), never into the source tree.
  "$bin" -runs="$runs" -max_total_time=120 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$t/artifacts/" "${extra[@]}" "$work/$t/corpus" "$seeds" \
    >"$work/$t/log" 2>&1
  rc=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log" | tail -1)"
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "FAIL $t (exit $rc, $(( $(date +%s) - t0 ))s); log: $work/$t/log"
    tail -40 "$work/$t/log" | sed 's/^/  /'
    for a in "$work/$t/artifacts"/*; do
      [ -f "$a" ] && echo "  reproducer $a (base64 $(base64 -w0 "$a" | head -c 400))" \
                  && echo "  rerun: $bin $a"
    done
  else
    echo "ok   $t: ${execs:-?} executions (seeds $(ls "$seeds" | wc -l)) in $(( $(date +%s) - t0 ))s"
  fi
done
echo "== total $(( $(date +%s) - start ))s"
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAIL: ${failed[*]}"
  exit 1
fi
echo "PASS: ${#targets[@]} fuzz targets"
