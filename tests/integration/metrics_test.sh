#!/usr/bin/env bash
# metrics_test.sh - the Prometheus endpoint end to end: mxguard with [metrics] listen on a free
# loopback port behind a real Postfix; a known set of transactions (3 clean and delivered, 2 from
# an RBL-listed client rejected at RCPT), then /metrics must show exactly those counts. Also: 404
# and 405, 20 slow clients neither keep a scrape out nor stay past the request deadline, a
# non-loopback listen refused without allow_remote, a port in use refused at start.
# Must not: use any network beyond loopback, or leave a process or file behind (testbed traps EXIT).
set -uo pipefail
MXGUARD=${1:?usage: metrics_test.sh MXGUARD MXGUARD-CHECK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"

tb_require python3 nsd nsd-checkconf dig swaks postfix postconf curl
[[ -x "$MXGUARD" ]] || { echo "FAIL: $MXGUARD is not executable"; exit 1; }
[[ $(id -u) -eq 0 ]] || tb_skip "a private Postfix instance needs root"
tb_init

POLICY="$here/policies/integration.conf"

# 1. Configuration: a non-loopback address needs allow_remote = yes, and the error says why.
printf '# metrics on a public address\n[metrics]\nlisten = 192.0.2.1:9102\n' > "$TB_DIR/remote.conf"
out=$("$MXGUARD" --check-config --config "$TB_DIR/remote.conf" --policy "$POLICY" 2>&1); rc=$?
want="mxguard: $TB_DIR/remote.conf:3: metrics.listen: '192.0.2.1:9102' is not a loopback address; /metrics has no authentication, so set allow_remote = yes to expose it beyond this host"
if [[ $rc -eq 78 && "$out" == "$want" ]]; then ok "non-loopback listen refused (78): $out"
else bad "non-loopback listen: rc=$rc, got '$out', want '$want'"; fi
printf '[metrics]\nlisten = 192.0.2.1:9102\nallow_remote = yes\n' > "$TB_DIR/remote-ok.conf"
out=$("$MXGUARD" --check-config --config "$TB_DIR/remote-ok.conf" --policy "$POLICY" 2>&1); rc=$?
if [[ $rc -eq 0 ]]; then ok "non-loopback listen accepted with allow_remote = yes"
else bad "allow_remote = yes: rc=$rc: $out"; fi
printf '[metrics]\nlisten = localhost:9102\n' > "$TB_DIR/name.conf"
out=$("$MXGUARD" --check-config --config "$TB_DIR/name.conf" --policy "$POLICY" 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == *"name.conf:2: metrics.listen: invalid address 'localhost:9102'"* ]]; then
  ok "a host name is refused: $out"
else bad "listen = localhost:9102: rc=$rc: $out"; fi

# 2. The daemon with the listener, behind Postfix.
start_nsd || { echo "FAIL: nsd did not start"; exit 1; }
METRICS_PORT=$(free_port)
printf '[metrics]\nlisten = 127.0.0.1:%s\n' "$METRICS_PORT" > "$TB_DIR/mxguard.conf"
start_mxguard "$MXGUARD" "$POLICY" --config "$TB_DIR/mxguard.conf" \
  || { echo "FAIL: mxguard did not start"; exit 1; }
start_postfix || { echo "FAIL: Postfix did not start"; exit 1; }
URL="http://127.0.0.1:$METRICS_PORT"
SENDER="sender@client.example.net"

scrape() { curl -sS --max-time 5 "$URL/metrics" > "$TB_DIR/$1.prom"; }
# metric FILE SERIES: the value of one exact series line (name and labels as written), or "absent".
metric() {
  awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " { print substr($0, length(s) + 2); f = 1 }
                 END { if (!f) print "absent" }' "$TB_DIR/$1.prom"
}
expect_metric() {
  local file=$1 series=$2 want=$3 got
  got=$(metric "$file" "$series")
  if [[ "$got" == "$want" ]]; then ok "$series = $want"
  else bad "$series: want $want, got $got"; fi
}

# Postfix's own start-up probe (wait_port) is a milter connection too: let its summary line land,
# then count from there. Absolute counts below are those no probe connection can touch.
sleep 0.5
base_lines=$(grep -c ' action=' "$MXGUARD_LOG")
scrape before
expect_metric before 'mxguard_verdicts_total{action="accept"}' 0
expect_metric before "mxguard_build_info{version=\"$("$MXGUARD" --version | awk '{print $2}')\"}" 1

session() {
  local file=$1 addr=$2 name=$3
  shift 3
  tb_swaks --xclient-addr "$addr" --xclient-name "$name" --xclient-reverse-name "$name" \
    --ehlo "$name" --from "$SENDER" --to "user@$TB_MAIL_DOMAIN" "$@" > "$TB_DIR/$file.swaks"
}
for i in 1 2 3; do
  session "clean-$i" 192.0.2.10 mail.client.example.net --header "Subject: metrics clean $i"
  if grep -q '^<-  250 2.0.0 Ok: queued as' "$TB_DIR/clean-$i.swaks"; then ok "clean-$i: queued"
  else bad "clean-$i: not queued; transcript: $(tail -5 "$TB_DIR/clean-$i.swaks")"; fi
done
for i in 1 2; do
  session "listed-$i" 192.0.2.2 listed.example.net --header "Subject: metrics listed $i"
  if grep -q '^<\*\* 554 5.7.1 Service unavailable; Client host \[192.0.2.2\] blocked' "$TB_DIR/listed-$i.swaks"; then
    ok "listed-$i: rejected at RCPT"
  else bad "listed-$i: no 554 at RCPT; transcript: $(tail -5 "$TB_DIR/listed-$i.swaks")"; fi
done
# The summary line (and the verdict) is written when Postfix closes the milter session. Each
# swaks session is two milter connections: the loopback one before XCLIENT (EHLO, no MAIL: one
# "disconnect" line) and the presented client's.
want_lines=$((base_lines + 10))
for ((i = 0; i < 100; i++)); do
  [[ $(grep -c ' action=' "$MXGUARD_LOG") -ge $want_lines ]] && break
  sleep 0.05
done
n=$(grep -c ' action=' "$MXGUARD_LOG")
[[ $n -eq $want_lines ]] && ok "10 more summary lines (5 transactions, 5 pre-XCLIENT connections)" \
  || bad "summary lines: $n, want $want_lines"

scrape after
# expect_delta SERIES N: the series grew by exactly N between the before and after scrapes.
expect_delta() {
  local b a
  b=$(metric before "$1") a=$(metric after "$1")
  [[ $b == absent ]] && b=0
  if [[ "$a" =~ ^[0-9]+$ ]] && (( a - b == $2 )); then ok "$1: +$2 ($b -> $a)"
  else bad "$1: want +$2, went $b -> $a"; fi
}
expect_metric after 'mxguard_verdicts_total{action="accept"}' 3
expect_metric after 'mxguard_verdicts_total{action="reject"}' 2
expect_metric after 'mxguard_verdicts_total{action="tempfail"}' 0
# rbl decides at connect; delay_reject holds the rejection to RCPT.
expect_metric after 'mxguard_stage_outcomes_total{stage="rbl",outcome="listed",effect="delayed"}' 2
expect_delta 'mxguard_verdicts_total{action="disconnect"}' 5
# 3 clean clients and the 5 loopback connections before XCLIENT are not listed.
expect_delta 'mxguard_stage_outcomes_total{stage="rbl",outcome="not_listed",effect="none"}' 8
# The log says the same: rbl:listed/delayed twice.
n=$(grep -c 'stages=.*rbl:listed/delayed.* action=reject' "$MXGUARD_LOG")
[[ $n -eq 2 ]] && ok "log: rbl:listed/delayed in 2 rejected transactions" || bad "log: rbl:listed/delayed $n times"
# Phases: connect and HELO twice per session (before and after XCLIENT), MAIL and RCPT once, the
# DATA phases only for the 3 accepted messages.
for phase in connect helo; do
  expect_delta "mxguard_phase_duration_seconds_count{phase=\"$phase\"}" 10
done
for phase in mail rcpt; do
  expect_metric after "mxguard_phase_duration_seconds_count{phase=\"$phase\"}" 5
done
for phase in eoh body eom; do
  expect_metric after "mxguard_phase_duration_seconds_count{phase=\"$phase\"}" 3
done
headers=$(metric after 'mxguard_phase_duration_seconds_count{phase="header"}')
if [[ "$headers" =~ ^[0-9]+$ ]] && ((headers > 0 && headers % 3 == 0)); then
  ok "header phase: $headers calls, the same number for each of the 3 messages"
else bad "header phase count: $headers"; fi
for phase in connect helo mail rcpt header eoh body eom; do
  inf=$(metric after "mxguard_phase_duration_seconds_bucket{phase=\"$phase\",le=\"+Inf\"}")
  cnt=$(metric after "mxguard_phase_duration_seconds_count{phase=\"$phase\"}")
  [[ "$inf" == "$cnt" ]] || bad "phase $phase: +Inf bucket $inf != count $cnt"
done
ok "every phase's +Inf bucket equals its count"
dns=$(metric after 'mxguard_dependency_duration_seconds_count{dependency="dns"}')
if [[ "$dns" =~ ^[0-9]+$ ]] && ((dns >= 5)); then ok "dns batches timed: $dns"
else bad "dns batch count: $dns"; fi
expect_metric after 'mxguard_dependency_duration_seconds_count{dependency="callout"}' 0
for family in mxguard_stage_outcomes_total:counter mxguard_verdicts_total:counter \
  mxguard_dependency_failures_total:counter mxguard_cache_lookups_total:counter \
  mxguard_callout_probes_total:counter mxguard_policy_reloads_total:counter \
  mxguard_build_info:gauge mxguard_phase_duration_seconds:histogram \
  mxguard_dependency_duration_seconds:histogram mxguard_events_total:counter; do
  name=${family%%:*} type=${family##*:}
  if grep -qx "# TYPE $name $type" "$TB_DIR/after.prom" && grep -q "^# HELP $name " "$TB_DIR/after.prom"; then :
  else bad "no # HELP / # TYPE $name $type"; fi
done
ok "HELP and TYPE for all 10 families"

# 3. HTTP: content type, 404, 405.
ctype=$(curl -sS -o /dev/null -w '%{content_type}' "$URL/metrics")
[[ "$ctype" == "text/plain; version=0.0.4; charset=utf-8" ]] && ok "Content-Type: $ctype" \
  || bad "Content-Type: $ctype"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$URL/other")
[[ "$code" == 404 ]] && ok "GET /other: 404" || bad "GET /other: $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d x=1 "$URL/metrics")
[[ "$code" == 405 ]] && ok "POST /metrics: 405" || bad "POST /metrics: $code"

# 3b. 20 slow clients (each sends half a request, then a byte every 0.5 s, never finishing) must
# not keep Prometheus out: a scrape right after they connect answers within a second, and each of
# them is cut off within the request deadline (3 s) however long it trickles.
cat > "$TB_DIR/slow_clients.py" <<'PY'
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(n)]
for s in socks:
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
open(ready, "w").close()
start, cut = time.time(), {}
while time.time() - start < 8 and len(cut) < n:
    for i, s in enumerate(socks):
        if i in cut:
            continue
        try:
            s.sendall(b"X")
            s.settimeout(0.01)
            if s.recv(1) == b"":
                cut[i] = time.time() - start
        except socket.timeout:
            pass
        except OSError:
            cut[i] = time.time() - start
    time.sleep(0.5)
print("%d %.1f" % (len(cut), max(cut.values()) if cut else -1))
PY
rm -f "$TB_DIR/slow.ready"
python3 "$TB_DIR/slow_clients.py" "$METRICS_PORT" 20 "$TB_DIR/slow.ready" > "$TB_DIR/slow.out" 2>&1 &
slow_pid=$!
for _ in $(seq 50); do [[ -e "$TB_DIR/slow.ready" ]] && break; sleep 0.1; done
sleep 0.3
got=$(curl -sS --max-time 1 -o "$TB_DIR/slow.prom" -w '%{http_code} %{time_total}' "$URL/metrics" 2>&1)
if [[ "$got" == "200 "* ]] && grep -q '^mxguard_build_info' "$TB_DIR/slow.prom"; then
  ok "20 slow clients connected: a scrape still answers at once ($got s)"
else bad "20 slow clients connected: scrape got '$got'"; fi
wait "$slow_pid"
read -r cut latest < "$TB_DIR/slow.out"
if [[ "$cut" == 20 ]] && awk -v l="$latest" 'BEGIN { exit !(l >= 0 && l <= 6) }'; then
  ok "all 20 slow clients cut off, the last after ${latest} s"
else bad "slow clients: $(cat "$TB_DIR/slow.out") (want all 20 cut within 6 s: the 3 s deadline, the sweep, this loop)"; fi
got=$(curl -sS --max-time 1 -o /dev/null -w '%{http_code}' "$URL/metrics" 2>&1)
[[ "$got" == 200 ]] && ok "scrape after the slow clients: 200" || bad "scrape after the slow clients: $got"

# 4. SIGHUP is counted.
kill -HUP "$MXGUARD_PID"
tb_wait_log "$MXGUARD_LOG" "policy reloaded" 10 >/dev/null || bad "no 'policy reloaded' line"
scrape reload
expect_metric reload 'mxguard_policy_reloads_total{result="success"}' 1

# 5. A second daemon on the same metrics port refuses to start (exit 71, says why).
out=$(timeout 20 "$MXGUARD" --foreground --allow-root --config "$TB_DIR/mxguard.conf" --policy "$POLICY" \
  --socket "inet:$(free_port)@127.0.0.1" --dns "127.0.0.1@$NSD_PORT" 2>&1); rc=$?
if [[ $rc -eq 71 && "$out" == *"cannot listen for metrics on 127.0.0.1:$METRICS_PORT"* ]]; then
  ok "port in use: exit 71, 'cannot listen for metrics on 127.0.0.1:$METRICS_PORT'"
else bad "port in use: rc=$rc: $out"; fi

# 6. Clean stop with the listener running; the port is closed afterwards.
stop_mxguard
rc=$?
[[ $rc -eq 0 ]] && ok "mxguard exited 0 on SIGTERM, no sanitizer report" || bad "mxguard stop: $rc"
if curl -s --max-time 2 -o /dev/null "$URL/metrics"; then bad "metrics port still answers after stop"
else ok "metrics port closed after stop"; fi

tb_summary
