#!/usr/bin/env bash
# callgrind.sh - instructions per transaction, per stage, counted by valgrind --tool=callgrind
# (repeatable on a noisy machine, unlike time). `mxguard-check --repeat` runs the benchmark's
# transaction (bench/fixtures.sh: client 198.18.0.1 with its forward-confirmed name and HELO,
# the SPF-passing sender, the DKIM-signed message) again and again through one engine, as the
# daemon does with a warm DNS cache. Per policy, two runs of R1 and R2 repetitions:
# (Ir(R2) - Ir(R1)) / (R2 - R1) is one warm transaction, start-up and first lookups cancelled.
# Policies: "none" (no stage: the engine, the dialogue, the log line), each stage of the
# everything-on policy alone, "all", and "all" with access maps (bench/fixtures.sh:
# all_maps_policy, 100,000 entries each, neither matching): "all_maps" (a cidr map for the client
# and an address map for the recipients); with --policies also "all_clients_map" and
# "all_recipients_map" (one map each). A stage's own cost is its row minus "none"; the maps' cost
# is their row minus "all".
# Usage: bench/callgrind.sh BUILD_DIR [--repeat N] [--out DIR] [--stages "rbl helo ..."]
#                           [--policies "none all all_maps ..."]
#   --repeat N    R2 - R1 (default 200; R1 = 20)
#   --policies L  exactly these policies, in this order (default: none, the stages, all_without_dmarc,
#                 all, all_maps)
#   --keep        keep each run's profile as DIR/callgrind.POLICY.REPEAT.out, for callgrind_annotate
#                 (a function's cost per transaction: its Ir in the R2 file minus the R1 file, / N)
# Writes DIR/callgrind.md and DIR/callgrind.json (default DIR: $TB_DIR/results).
# Must not: use any network beyond loopback (nsd and the callout target are the test bed's).
set -uo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [--repeat N] [--out DIR] [--stages LIST]}" && pwd)
shift
repeat=200 out="" stages="rbl helo rdns behaviour ratelimit spf callout greylist headers dkim" policies="" keep=0
while (($#)); do
  case $1 in
    --repeat) repeat=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --stages) stages=$2; shift 2 ;;
    --policies) policies=$2; shift 2 ;;
    --keep) keep=1; shift ;;
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
    # The maps are written once, into $TB_DIR/maps (the policies name them relative to themselves).
    all_maps) all_maps_policy > "$TB_DIR/$1.conf" || return 1 ;;
    all_clients_map) all_maps_policy clients > "$TB_DIR/$1.conf" || return 1 ;;
    all_recipients_map) all_maps_policy recipients > "$TB_DIR/$1.conf" || return 1 ;;
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
  if ((keep)); then mv "$f" "$out/callgrind.$(basename "$1" .conf).$2.out"; else rm -f "$f"; fi
}
r1=20
r2=$((r1 + repeat))
rows="$out/callgrind.jsonl"
: > "$rows"
policies=${policies:-none $stages all_without_dmarc all all_maps}
for name in $policies; do
  p=$(policy_for "$name") || { echo "callgrind.sh: $name: no policy" >&2; exit 1; }
  a=$(instructions "$p" "$r1") && b=$(instructions "$p" "$r2") || exit 1
  printf '{"policy":"%s","r1":%d,"r2":%d,"ir1":%s,"ir2":%s}\n' "$name" "$r1" "$r2" "$a" "$b" >> "$rows"
  echo "bench: $name: $(((b - a) / repeat)) instructions per transaction" >&2
done
python3 - "$rows" "$out" "$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(valgrind --version)" <<'PY'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1])]
per = {r["policy"]: (r["ir2"] - r["ir1"]) / (r["r2"] - r["r1"]) for r in rows}
base = per.get("none")
lines = [f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {sys.argv[3]}, {sys.argv[4]}; "
         f"{rows[0]['r2'] - rows[0]['r1']} warm transactions per policy.", "",
         "| policy | instructions / transaction | stage's own (minus none) |", "|---|---:|---:|"]
for r in rows:
    p = r["policy"]
    own = "" if p == "none" or base is None else f"{per[p] - base:,.0f}"
    lines.append(f"| {p} | {per[p]:,.0f} | {own} |")
others = ("none", "all", "all_without_dmarc", "all_maps", "all_clients_map", "all_recipients_map")
stages = [r["policy"] for r in rows if r["policy"] not in others]
lines.append("")
if base is not None and "all" in per and stages:
    lines += [f"Sum of the stages' own costs: {sum(per[s] - base for s in stages):,.0f}; "
              f"all together minus none: {per['all'] - base:,.0f}."]
if "all_without_dmarc" in per and "all" in per:
    d = per["all"] - per["all_without_dmarc"]
    lines += [f"dmarc (all minus all_without_dmarc): {d:,.0f} instructions per transaction, "
              f"{100 * d / per['all_without_dmarc']:.1f} % of the rest."]
# The access maps (issue 23: within 2 % of the every-stage row).
for p, what in (("all_maps", "a 100,000-network cidr map (client) and a 100,000-address map (recipients)"),
                ("all_clients_map", "the cidr map alone"), ("all_recipients_map", "the address map alone")):
    if p in per and "all" in per:
        d = per[p] - per["all"]
        lines += [f"{p} minus all ({what}): {d:+,.0f} instructions per transaction, "
                  f"{100 * d / per['all']:+.2f} % (all {per['all']:,.0f}, {p} {per[p]:,.0f})."]
open(sys.argv[2] + "/callgrind.md", "w").write("\n".join(lines) + "\n")
json.dump({"per_transaction": per, "rows": rows}, open(sys.argv[2] + "/callgrind.json", "w"), indent=1)
print("\n".join(lines))
PY
