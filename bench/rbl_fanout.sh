#!/usr/bin/env bash
# rbl_fanout.sh - what the number of blocklist zones costs in latency when every DNS answer takes
# DELAY ms (bench/delayed_dns.py: one asyncio timer per query, so 20 queries at once all come back
# after one delay; NXDOMAIN without SOA, nothing cached).
# `mxguard-check --replay` runs N transactions from N different clients (so no answer comes from
# a cache) through a policy with only the rbl stage on K zones; the per-transaction latency of K
# zones is (wall(K) - wall(no stage)) / N, the median over interleaved rounds. The rbl stage sends
# all of a client's queries at once, so K zones should cost one delay, not K.
# Usage: bench/rbl_fanout.sh BUILD_DIR [--delay-ms 50] [--transactions 40] [--rounds 3]
#                          [--zones "1 5 20"] [--out DIR]
# Writes DIR/rbl_fanout.md and DIR/rbl_fanout.json (default DIR: $TB_DIR/results).
# Must not: use any network beyond loopback.
set -uo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [options]}" && pwd)
shift
delay=50 n=40 rounds=3 counts="1 5 20" out=""
while (($#)); do
  case $1 in
    --delay-ms) delay=$2; shift 2 ;;
    --transactions) n=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --zones) counts=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "rbl_fanout.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/tests/testbed/testbed.sh"
tb_init
tb_require python3
check="$build/mxguard-check"
[[ -x "$check" ]] || { echo "FAIL: $check is not executable"; exit 1; }
out=${out:-$TB_DIR/results}
mkdir -p "$out"

# Nothing is listed: every query is NXDOMAIN after the delay.
python3 "$here/bench/delayed_dns.py" --delay-ms "$delay" > "$TB_DIR/port" &
dns_pid=$!
stop_dns() { kill "$dns_pid" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_dns)
for _ in $(seq 50); do [[ -s "$TB_DIR/port" ]] && break; sleep 0.1; done
dns_port=$(head -n 1 "$TB_DIR/port")
[[ -n "$dns_port" ]] || { echo "FAIL: delayed_dns.py did not start"; exit 1; }

# policy K: the rbl stage alone on K zones (0: no stage at all, the baseline).
for k in 0 $counts; do
  {
    echo "[engine]"
    if ((k == 0)); then echo "stages ="; else echo "stages = rbl"; fi
    echo "whitelist_clients ="
    if ((k > 0)); then
      echo "[rbl]"
      for ((i = 1; i <= k; i++)); do echo "zone = z$i.fanout.example=127.0.0.[2..11]"; done
    fi
  } > "$TB_DIR/policy$k.conf"
done
# N transactions from 198.18.1.1, 198.18.1.2, ...: every client's lookups are new.
python3 - "$n" > "$TB_DIR/transactions.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"time": "2026-12-01T00:00:00Z", "queue_id": f"F{i}",
                      "client_address": f"198.18.{1 + i // 250}.{1 + i % 250}",
                      "client_name": "load.client.example.net", "helo": "load.client.example.net",
                      "auth_user": "", "sender": "bench@sender.example.net",
                      "recipients": ["user@example.org"], "action": "accept", "reason": "",
                      "reply": ""}))
PY

python3 - "$check" "$TB_DIR" "$dns_port" "$n" "$rounds" "$delay" "$out" $counts <<'PY'
import json, statistics, subprocess, sys, time
check, tb, port, n, rounds, delay, out = sys.argv[1:8]
n, rounds, delay = int(n), int(rounds), int(delay)
counts = [int(k) for k in sys.argv[8:]]
# Each run resolves through its own fresh process: a new libunbound cache and a new answer cache.
def wall(k):
    t0 = time.perf_counter()
    r = subprocess.run([check, "--replay", f"{tb}/transactions.jsonl", "--policy",
                        f"{tb}/policy{k}.conf", "--dns", f"127.0.0.1@{port}",
                        "--hostname", "mx.example.net"], capture_output=True, text=True)
    t = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"rbl_fanout: policy{k} exit {r.returncode}: {r.stderr.strip()}")
    return t
walls = {k: [] for k in [0] + counts}
for _ in range(rounds):
    for k in walls:
        walls[k].append(wall(k))
base = statistics.median(walls[0])
per = {k: (statistics.median(walls[k]) - base) / n * 1000 for k in counts}
lines = [f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: rbl stage alone, every DNS answer "
         f"after {delay} ms (delayed_dns.py), {n} transactions from different clients per run, "
         f"median of {rounds} rounds.", "",
         "| zones | queries per transaction | ms per transaction (over no stage) | vs 1 zone |",
         "|---:|---:|---:|---:|"]
first = per[counts[0]]
for k in counts:
    lines.append(f"| {k} | {k} | {per[k]:.1f} | {per[k] / first:.2f} |")
open(f"{out}/rbl_fanout.md", "w").write("\n".join(lines) + "\n")
json.dump({"delay_ms": delay, "transactions": n, "walls_s": walls, "ms_per_transaction": per},
          open(f"{out}/rbl_fanout.json", "w"), indent=1)
print("\n".join(lines))
PY
