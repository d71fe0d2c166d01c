#!/usr/bin/env bash
# connection_memory.sh - the daemon's memory per open connection: mxguard with the everything-on
# policy (bench/fixtures.sh, DNS from the test bed's nsd), then N connections held open
# mid-transaction (bench/hold_connections.py: CONNECT, HELO and MAIL FROM done, as Postfix leaves
# them while its client is slow). Samples VmRSS and the thread count idle (after one warm-up
# round of N connections opened and closed), with N held, and after they closed.
# Per connection = (RSS held - RSS idle) / N. Debian's libmilter runs a pool of workers (a thread
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
PROBE_PORT=$(free_port)
python3 "$here/tests/testbed/scripted_smtp.py" --port "$PROBE_PORT" --mode accept-all > /dev/null 2>&1 &
probe_pid=$!
stop_probe() { kill "$probe_pid" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_probe)
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

hold "$n" && release || exit 1  # warm-up: caches, the pool, the allocator's arenas
idle=$(rss_kb) idle_threads=$(threads)
hold "$n" || exit 1
held=$(cat "$TB_DIR/ready")
[[ $held == "held=$n failed=0" ]] || { echo "FAIL: $held: $(head -3 "$TB_DIR/hold.err")"; exit 1; }
sleep 1
busy=$(rss_kb) busy_threads=$(threads)
release
after=$(rss_kb) after_threads=$(threads)
per=$(((busy - idle) * 1024 / n))
{
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'): mxguard (everything-on policy), $n milter connections held"
  echo "open after CONNECT, HELO and MAIL FROM (bench/hold_connections.py)."
  echo
  echo "| state | VmRSS | threads |"
  echo "|---|---:|---:|"
  echo "| idle (after a warm-up round) | $idle KB | $idle_threads |"
  echo "| $n connections held | $busy KB | $busy_threads |"
  echo "| after they closed | $after KB | $after_threads |"
  echo
  echo "Per connection: $per bytes ($(((busy - idle) / n)) KB)."
} > "$out/connection_memory.md"
printf '{"connections":%d,"idle_kb":%d,"held_kb":%d,"after_kb":%d,"per_connection_bytes":%d,"threads":[%d,%d,%d]}\n' \
  "$n" "$idle" "$busy" "$after" "$per" "$idle_threads" "$busy_threads" "$after_threads" > "$out/connection_memory.json"
cat "$out/connection_memory.md"
stop_mxguard
