#!/usr/bin/env bash
# callgrind.sh - instructions per transaction, per stage, counted by valgrind --tool=callgrind
# (repeatable on a noisy machine, unlike time). `mxguard-check --repeat` runs the benchmark's
# transaction (bench/fixtures.sh: client 198.18.0.1 with its forward-confirmed name and HELO,
# the SPF-passing sender, the DKIM-signed message) again and again through one engine, as the
# daemon does with a warm DNS cache. Per policy, two runs of R1 and R2 repetitions:
# (Ir(R2) - Ir(R1)) / (R2 - R1) is one warm transaction, start-up and first lookups cancelled.
# Policies: "none" (no stage: the engine, the dialogue, the log line), each stage of the
# everything-on policy alone, and "all". A stage's own cost is its row minus "none".
# Usage: bench/callgrind.sh BUILD_DIR [--repeat N] [--out DIR] [--stages "rbl helo ..."]
#   --repeat N   R2 - R1 (default 200; R1 = 20)
# Writes DIR/callgrind.md and DIR/callgrind.json (default DIR: $TB_DIR/results).
# Must not: use any network beyond loopback (nsd and the callout target are the test bed's).
set -uo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [--repeat N] [--out DIR] [--stages LIST]}" && pwd)
shift
repeat=200 out="" stages="rbl helo rdns behaviour ratelimit spf callout greylist headers dkim"
while (($#)); do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --stages) stages=$2; shift 2 ;;
    *) echo "callgrind.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/tests/testbed/testbed.sh"
source "$here/bench/fixtures.sh"
tb_init
tb_require valgrind callgrind_annotate dkimsign openssl python3
check="$build/mxguard-check"
[[ -x "$check" ]] || { echo "FAIL: $check is not executable"; exit 1; }
grep -q "__asan_init" "$check" && { echo "FAIL: $check is built with ASan; use a release build"; exit 1; }
out=${out:-$TB_DIR/results}
mkdir -p "$out"
bench_fixtures || exit 1
start_callout_target || exit 1
all_policy > "$TB_DIR/all.conf"

# policy_for NAME: none, all, or one stage of the everything-on policy (its sections unchanged).
policy_for() {
  case $1 in
    all) ;;  # all.conf itself
    none) sed 's/^stages = .*/stages =/' "$TB_DIR/all.conf" > "$TB_DIR/$1.conf" ;;
    # dmarc needs spf and dkim before it: its cost is "all" minus this row.
    all_without_dmarc) sed 's/^\(stages = .*\) dmarc$/\1/' "$TB_DIR/all.conf" > "$TB_DIR/$1.conf" ;;
    *) sed "s/^stages = .*/stages = $1/" "$TB_DIR/all.conf" > "$TB_DIR/$1.conf" ;;
  esac
  echo "$TB_DIR/$1.conf"
}
# instructions POLICY REPEAT: the Ir total of one mxguard-check run under callgrind.
instructions() {
  local f="$TB_DIR/cg.$RANDOM.out"
  valgrind --tool=callgrind --callgrind-out-file="$f" "$check" --policy "$1" \
    --dns "127.0.0.1@$NSD_PORT" --hostname mx.example.net --client-ip 198.18.0.1 \
    --client-name load.client.example.net --helo load.client.example.net --from "$sender" \
    --rcpt "$rcpt" --message "$TB_DIR/message.eml" --repeat "$2" > "$TB_DIR/cg.stdout" 2> "$TB_DIR/cg.stderr"
  local rc=$?
  # The transaction must pass every stage (exit 0): a rejected one would skip the rest.
  if ((rc != 0)); then
    echo "callgrind.sh: $(basename "$1") exit $rc: $(grep -m3 '<<< [45]' "$TB_DIR/cg.stdout")" >&2
    return 1
  fi
  sed -n 's/^summary: *//p' "$f" | head -n 1
  rm -f "$f"
}
r1=20
r2=$((r1 + repeat))
rows="$out/callgrind.jsonl"
: > "$rows"
for name in none $stages all_without_dmarc all; do
  p=$(policy_for "$name")
  a=$(instructions "$p" "$r1") && b=$(instructions "$p" "$r2") || exit 1
  printf '{"policy":"%s","r1":%d,"r2":%d,"ir1":%s,"ir2":%s}\n' "$name" "$r1" "$r2" "$a" "$b" >> "$rows"
  echo "bench: $name: $(((b - a) / repeat)) instructions per transaction" >&2
done
python3 - "$rows" "$out" "$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(valgrind --version)" <<'PY'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1])]
per = {r["policy"]: (r["ir2"] - r["ir1"]) / (r["r2"] - r["r1"]) for r in rows}
base = per["none"]
lines = [f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {sys.argv[3]}, {sys.argv[4]}; "
         f"{rows[0]['r2'] - rows[0]['r1']} warm transactions per policy.", "",
         "| policy | instructions / transaction | stage's own (minus none) |", "|---|---:|---:|"]
for r in rows:
    p = r["policy"]
    own = "" if p == "none" else f"{per[p] - base:,.0f}"
    lines.append(f"| {p} | {per[p]:,.0f} | {own} |")
stages = [r["policy"] for r in rows if r["policy"] not in ("none", "all", "all_without_dmarc")]
lines += ["", f"Sum of the stages' own costs: {sum(per[s] - base for s in stages):,.0f}; "
          f"all together minus none: {per['all'] - base:,.0f}."]
if "all_without_dmarc" in per:
    d = per["all"] - per["all_without_dmarc"]
    lines += [f"dmarc (all minus all_without_dmarc): {d:,.0f} instructions per transaction, "
              f"{100 * d / per['all_without_dmarc']:.1f} % of the rest."]
open(sys.argv[2] + "/callgrind.md", "w").write("\n".join(lines) + "\n")
json.dump({"per_transaction": per, "rows": rows}, open(sys.argv[2] + "/callgrind.json", "w"), indent=1)
print("\n".join(lines))
PY
