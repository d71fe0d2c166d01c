#!/usr/bin/env bash
# soak_harness_test.sh - memory soak of `mxguard-check --replay`: N varied recorded transactions
# (make_replay_input.py: many clients, HELOs, senders, with and without header fields, some that
# are rejected or deferred) through a policy whose stages resolve against the testbed nsd, while
# rss_sampler.sh samples the harness's VmRSS and how far it has read the file. Asserts: every
# transaction got a verdict (the report's counts add up to N, each kind of verdict occurs), RSS
# after warm-up (the first 10% of the file, at least 1000 transactions) grows by at most the
# bound, and no sanitizer or LeakSanitizer report at exit.
# Short (CI): N=10000 with the binary ctest passes ($2, the ASan+LSan build in build-test).
# Long:  MXGUARD_SOAK_TRANSACTIONS=1000000 MXGUARD_SOAK_CHECK_BIN=build-rel/mxguard-check
# Valgrind: MXGUARD_SOAK_VALGRIND=1 (N default 2000, a non-ASan binary): memcheck --leak-check=full,
#        asserts "definitely lost" and "indirectly lost" are 0 bytes; no RSS bound.
# Other knobs: MXGUARD_SOAK_RSS_BOUND_KB (default 5120 release, 8192 ASan), MXGUARD_SOAK_KEEP=DIR
#        (copy samples, output and summary there).
# Must not: use any network beyond loopback, or leave a process or file behind (testbed traps EXIT).
set -uo pipefail
CHECK=${MXGUARD_SOAK_CHECK_BIN:-${2:?usage: soak_harness_test.sh MXGUARD MXGUARD-CHECK}}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"

tb_require python3 nsd nsd-checkconf dig
[[ -x "$CHECK" ]] || { echo "FAIL: $CHECK is not executable"; exit 1; }
valgrind=${MXGUARD_SOAK_VALGRIND:-}
[[ -n "$valgrind" ]] && tb_require valgrind
N=${MXGUARD_SOAK_TRANSACTIONS:-$([[ -n "$valgrind" ]] && echo 2000 || echo 10000)}
asan=""
grep -q "__asan_init" "$CHECK" 2>/dev/null && asan=1
if [[ -n "$valgrind" && -n "$asan" ]]; then
  echo "FAIL: valgrind needs a binary without ASan (MXGUARD_SOAK_CHECK_BIN=build-rel/mxguard-check)"
  exit 1
fi
# ASan keeps freed memory in a quarantine (256 MB by default) that fills during the whole run and
# would look like growth; 4 MB (full within the warm-up) still catches a use-after-free of the
# recent past. Bounds, from measurement (results/soak.md): the release build grows by < 0.1 MB
# after warm-up over 1,000,000 transactions, so 5 MB is ~50 bytes per transaction over 100,000;
# the ASan build's allocator caches wander by 1-4 MB, so 8 MB there.
bound_kb=${MXGUARD_SOAK_RSS_BOUND_KB:-$([[ -n "$asan" ]] && echo 8192 || echo 5120)}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:quarantine_size_mb=4"
tb_init

start_nsd || { echo "FAIL: nsd did not start"; exit 1; }

# Stages that need DNS (rbl, helo, rdns, spf) and one that does not (headers, behaviour); the
# testbed zones make each of them reject someone.
cat > "$TB_DIR/soak.conf" <<'P'
[engine]
stages = rbl helo rdns behaviour spf headers
whitelist_clients =
[rbl]
on_failure = accept
zone = dnsbl.example.net=127.0.0.[2..11]*1
zone = dnswl.example.net=127.0.[0..255].[1..3]*-2
[helo]
invalid = reject
bare_ip = reject
[rdns]
no_ptr = reject
not_confirmed = warn
[spf]
fail = reject
permerror = reject
[headers]
date_range = off
P

input="$TB_DIR/replay.jsonl"
python3 "$here/make_replay_input.py" "$N" > "$input" || { echo "FAIL: make_replay_input.py"; exit 1; }
lines=$(wc -l < "$input")
size=$(stat -c %s "$input")
[[ "$lines" -eq "$N" ]] && ok "input: $N records ($((size / 1024)) KiB)" || bad "input: $lines lines, wanted $N"

cmd=("$CHECK" --replay "$input" --policy "$TB_DIR/soak.conf" --dns "127.0.0.1@$NSD_PORT"
     --hostname mx.example.net)
if [[ -n "$valgrind" ]]; then
  # "possibly lost" is shown but not an error (see results/soak.md); definite and indirect are.
  cmd=(valgrind --tool=memcheck --leak-check=full "--show-leak-kinds=definite,indirect,possible"
       "--errors-for-leak-kinds=definite,indirect" --error-exitcode=99 --num-callers=30
       --log-file="$TB_DIR/valgrind.log" "${cmd[@]}")
fi
echo "running: ${cmd[*]}"
start_ms=$(date +%s%3N)
"${cmd[@]}" > "$TB_DIR/out.txt" 2> "$TB_DIR/err.txt" &
pid=$!
TB_CLEANUP_HOOKS+=(soak_kill)
soak_kill() { [[ -n "${pid:-}" ]] && kill -KILL "$pid" 2>/dev/null; }
bash "$here/rss_sampler.sh" "$pid" "$TB_DIR/samples.txt" "$input" 1 &
sampler=$!
wait "$pid"
rc=$?
pid=""
wait "$sampler"
secs_ms=$(($(date +%s%3N) - start_ms))
rate=$((N * 1000 / (secs_ms > 0 ? secs_ms : 1)))
echo "replay: $N transactions in $((secs_ms / 1000)).$(((secs_ms % 1000) / 100)) s ($rate/s)"

[[ $rc -eq 0 ]] && ok "mxguard-check exited 0" || bad "mxguard-check exited $rc; stderr: $(head -c 2000 "$TB_DIR/err.txt")"
if grep -qE "LeakSanitizer|AddressSanitizer|runtime error:" "$TB_DIR/err.txt"; then
  bad "sanitizer report at exit:"
  head -60 "$TB_DIR/err.txt" | sed 's/^/    /'
else
  ok "no sanitizer or LeakSanitizer report${asan:+ (ASan+LSan binary)}"
fi
grep -q "not a transaction record" "$TB_DIR/err.txt" && bad "records refused: $(grep -c 'not a transaction record' "$TB_DIR/err.txt")"

# The report: "replay: N transactions", "K of N would now be V (they were accepted), by: ...",
# "unchanged: U (U accepted)". The recording says "accept" for all, so changes + U = N.
out="$TB_DIR/out.txt"
grep -q "^replay: $N transactions from " "$out" && ok "report: $N transactions replayed" \
  || bad "report does not say $N transactions: $(head -1 "$out")"
rejected=$(sed -n "s/^\([0-9]*\) of $N would now be rejected .*/\1/p" "$out")
deferred=$(sed -n "s/^\([0-9]*\) of $N would now be deferred .*/\1/p" "$out")
unchanged=$(sed -n 's/^unchanged: \([0-9]*\).*/\1/p' "$out")
rejected=${rejected:-0} deferred=${deferred:-0} unchanged=${unchanged:-0}
if ((rejected + deferred + unchanged == N)); then
  ok "every transaction got a verdict: $unchanged accepted + $rejected rejected + $deferred deferred = $N"
else
  bad "verdicts: $unchanged accepted + $rejected rejected + $deferred deferred != $N"
fi
((rejected > 0 && deferred > 0 && unchanged > 0)) && ok "all three verdicts occur" \
  || bad "a verdict never occurs (accepted $unchanged, rejected $rejected, deferred $deferred)"
# The DNS-driven reasons prove the resolver answered (a dead nsd would give only dns_failure).
for reason in rbl.listed rdns.no_ptr spf.fail spf.permerror headers.missing_date helo.invalid; do
  grep -q "by: .*$reason [0-9]" "$out" && ok "reason $reason occurs" || bad "reason $reason never occurs"
done
sed -n '/would now be/p;/^unchanged:/p' "$out" | sed 's/^/    /'

if [[ -n "$valgrind" ]]; then
  def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$TB_DIR/valgrind.log" | tr -d ,)
  ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$TB_DIR/valgrind.log" | tr -d ,)
  grep -qE "All heap blocks were freed" "$TB_DIR/valgrind.log" && def=0 ind=0
  sed -n '/HEAP SUMMARY/,$p' "$TB_DIR/valgrind.log" | sed 's/^==[0-9]*== /    /'
  [[ "${def:-x}" == 0 ]] && ok "valgrind: definitely lost 0 bytes" || bad "valgrind: definitely lost ${def:-?} bytes"
  [[ "${ind:-x}" == 0 ]] && ok "valgrind: indirectly lost 0 bytes" || bad "valgrind: indirectly lost ${ind:-?} bytes"
else
  # Warm-up: the first 10% of the file, or the first 1000 transactions if that is more (every
  # name in the input's pools has been looked up once, ASan's quarantine has filled).
  warmup=$(python3 -c "print(max(0.1, 1000 / $N))")
  summary=$(python3 "$here/rss_summary.py" "$TB_DIR/samples.txt" "$warmup" "$size")
  echo "$summary" | sed 's/^/    /'
  growth=$(sed -n 's/^growth_after_warmup_kb=//p' <<< "$summary")
  nsamples=$(sed -n 's/^samples=//p' <<< "$summary")
  if ((${nsamples:-0} < 5)); then
    bad "only ${nsamples:-0} RSS samples: the run was too short to judge"
  elif ((growth <= bound_kb)); then
    ok "RSS after warm-up grew by $growth KiB <= $bound_kb KiB"
  else
    bad "RSS after warm-up grew by $growth KiB > $bound_kb KiB (series above)"
  fi
fi

if [[ -n "${MXGUARD_SOAK_KEEP:-}" ]]; then
  mkdir -p "$MXGUARD_SOAK_KEEP"
  cp "$TB_DIR"/{samples.txt,out.txt,err.txt} "$MXGUARD_SOAK_KEEP/" 2>/dev/null
  [[ -f "$TB_DIR/valgrind.log" ]] && cp "$TB_DIR/valgrind.log" "$MXGUARD_SOAK_KEEP/"
fi
tb_summary && ((passed > 0))
