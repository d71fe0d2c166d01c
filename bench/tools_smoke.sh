#!/usr/bin/env bash
# tools_smoke.sh BUILD_DIR - CI's smoke run of the benchmarks without an MTA (bench/README.md):
# rbl_fanout.sh, connection_memory.sh and, when the build has no ASan (valgrind cannot run it),
# callgrind.sh, each on a tiny load; fails when one fails or writes no table.
# Must not: take long (a few tens of seconds), or judge the numbers (CI machines are noisy).
set -uo pipefail
build=${1:?usage: tools_smoke.sh BUILD_DIR}
here="$(cd "$(dirname "$0")" && pwd)"
out=$(mktemp -d /tmp/mxguard-bench-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
failed=0
run() {  # NAME TABLE COMMAND...
  local name=$1 table=$2
  shift 2
  if "$@" > "$out/$name.log" 2>&1 && grep -q '^|' "$out/$table"; then
    echo "ok: $name"
  else
    echo "FAIL: $name"; tail -n 15 "$out/$name.log"; failed=1
  fi
}
run rbl_fanout rbl_fanout.md bash "$here/rbl_fanout.sh" "$build" --transactions 4 --rounds 1 --zones "1 5" --out "$out"
run connection_memory connection_memory.md bash "$here/connection_memory.sh" "$build" --connections 20 --out "$out"
if grep -q "__asan_init" "$build/mxguard-check" 2>/dev/null; then
  echo "skip: callgrind.sh (an ASan build: valgrind cannot run it)"
elif command -v valgrind > /dev/null; then
  run callgrind callgrind.md bash "$here/callgrind.sh" "$build" --repeat 3 --stages helo --out "$out"
fi
exit $failed
