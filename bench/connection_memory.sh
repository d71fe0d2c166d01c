#!/usr/bin/env bash
# connection_memory.sh - the daemon's memory per open connection: mxguard with the everything-on
# policy (bench/fixtures.sh, DNS from the test bed's nsd), then N connections held open
# mid-transaction (bench/hold_connections.py: CONNECT, HELO and MAIL FROM done, as Postfix leaves
# them while its client is slow). Samples VmRSS and the thread count after one connection, with
# N held, after they closed, and the same again. Per connection = (RSS held - RSS before) / N. Debian's libmilter runs a pool of workers (a thread
# per command being handled, not per connection), so an idle connection holds no thread stack.
# Usage: bench/connection_memory.sh BUILD_DIR [--connections 500] [--out DIR]
# Writes DIR/connection_memory.md and .json (default DIR: $TB_DIR/results).
# Must not: use any network beyond loopback.
set -uo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [--connections N] [--out DIR]}" && pwd)
shift
n=500 out=""
while (($#)); do
  case $1 in
    --connections) n=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "connection_memory.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/tests/testbed/testbed.sh"
source "$here/bench/fixtures.sh"
tb_init
tb_require python3 dkimsign openssl
out=${out:-$TB_DIR/results}
mkdir -p "$out"
ulimit -n $((n * 2 + 256)) 2> /dev/null || { echo "FAIL: cannot raise the open-files limit for $n connections"; exit 1; }
bench_fixtures || exit 1
start_callout_target || exit 1
all_policy > "$TB_DIR/all.conf"
start_mxguard "$build/mxguard" "$TB_DIR/all.conf" || exit 1

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$MXGUARD_PID/status"; }
threads() { awk '/^Threads/ {print $2}' "/proc/$MXGUARD_PID/status"; }
# hold N: opens N connections; returns once all are held (READY written).
hold() {
  rm -f "$TB_DIR/ready" "$TB_DIR/stop"
  python3 "$here/bench/hold_connections.py" "$MILTER_PORT" "$1" "$TB_DIR/ready" "$TB_DIR/stop" \
    2> "$TB_DIR/hold.err" &
  holder=$!
  for _ in $(seq 1200); do [[ -s "$TB_DIR/ready" ]] && return 0; sleep 0.1; done
  echo "FAIL: connections not held within 120 s: $(tail -3 "$TB_DIR/hold.err")"
  return 1
}
release() {
  touch "$TB_DIR/stop"
  wait "$holder"
  sleep 2  # libmilter's pool closes the sessions
}

# One connection first (DNS and answer caches, the first worker threads), then N held twice:
# the first time shows what N connections cost, the second that nothing stays behind.
hold 1 && release || exit 1
start=$(rss_kb) start_threads=$(threads)
declare -a held_kb held_threads after_kb after_threads
for i in 0 1; do
  hold "$n" || exit 1
  got=$(cat "$TB_DIR/ready")
  [[ $got == "held=$n failed=0" ]] || { echo "FAIL: $got: $(head -3 "$TB_DIR/hold.err")"; exit 1; }
  sleep 1
  held_kb[i]=$(rss_kb) held_threads[i]=$(threads)
  release
  after_kb[i]=$(rss_kb) after_threads[i]=$(threads)
done
per=$(((held_kb[0] - start) * 1024 / n))
{
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'): mxguard (everything-on policy), $n milter connections held"
  echo "open after CONNECT, HELO and MAIL FROM (bench/hold_connections.py), twice."
  echo
  echo "| state | VmRSS | threads |"
  echo "|---|---:|---:|"
  echo "| after one connection | $start KB | $start_threads |"
  echo "| $n connections held | ${held_kb[0]} KB | ${held_threads[0]} |"
  echo "| after they closed | ${after_kb[0]} KB | ${after_threads[0]} |"
  echo "| $n held again | ${held_kb[1]} KB | ${held_threads[1]} |"
  echo "| after they closed | ${after_kb[1]} KB | ${after_threads[1]} |"
  echo
  echo "Per connection (first $n, warm-up included): $per bytes. Growth from the first $n to the second: $((held_kb[1] - held_kb[0])) KB."
} > "$out/connection_memory.md"
printf '{"connections":%d,"start_kb":%d,"held_kb":[%d,%d],"after_kb":[%d,%d],"per_connection_bytes":%d,"threads":[%d,%d,%d]}\n' \
  "$n" "$start" "${held_kb[0]}" "${held_kb[1]}" "${after_kb[0]}" "${after_kb[1]}" "$per" "$start_threads" "${held_threads[0]}" "${held_threads[1]}" > "$out/connection_memory.json"
cat "$out/connection_memory.md"
stop_mxguard
