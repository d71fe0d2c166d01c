#!/usr/bin/env bash
# dependency_faults_test.sh - under continuous load through Postfix, each dependency fails in
# turn and comes back: DNS stopped, DNS answering after 5 s, Redis stopped, Redis paused
# (SIGSTOP), the callout target silent after accepting TCP, the callout target sending one byte
# a second. For each fault: every message that starts and ends inside it gets the policy's
# on_failure answer (exact text), within a stated bound (the worst case is printed); nothing goes
# unanswered or gets a 5xx; the log opens one incident for the failing stage and closes it
# after; the metrics count the failures; and once the dependency is back, every message is
# accepted again without anyone restarting mxguard.
# Each client has its own address (198.18.0.0/16, PTR wildcard) and sender, so nothing is
# answered from a cache. Long version: MXGUARD_FAULT_SECONDS=60 MXGUARD_FAULT_SESSIONS=50.
# Must not: touch anything but the loopback servers it starts.
set -uo pipefail
MXGUARD=$1
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init
tb_require python3 postfix redis-server curl
FAULT_S=${MXGUARD_FAULT_SECONDS:-6}
RECOVER_S=${MXGUARD_FAULT_RECOVER_SECONDS:-9}  # > the 5 s quiet period that closes an incident
SESSIONS=${MXGUARD_FAULT_SESSIONS:-20}
# MXGUARD_FAULTS: a subset to run, e.g. "dns_stop dns_slow" (default: all six)
FAULTS=${MXGUARD_FAULTS:-dns_stop dns_slow redis_stop redis_pause callout_silent callout_drip}

REDIS_PORT=$(free_port)
PROBE_PORT=$(free_port)
probe_pid=""
start_probe_server() {  # MODE
  python3 "$here/testbed/scripted_smtp.py" --port "$PROBE_PORT" --mode "$1" > /dev/null 2>&1 &
  probe_pid=$!
  wait_port 127.0.0.1 "$PROBE_PORT" 10
}
stop_probe_server() {
  [[ -n "$probe_pid" ]] && kill "$probe_pid" 2>/dev/null
  wait "$probe_pid" 2>/dev/null
  probe_pid=""
}
slow_pid=""
stop_slow_dns() {
  [[ -n "$slow_pid" ]] && kill "$slow_pid" 2>/dev/null
  wait "$slow_pid" 2>/dev/null
  slow_pid=""
}
TB_CLEANUP_HOOKS+=(stop_probe_server stop_slow_dns)
start_redis || exit 1
start_probe_server accept-all || exit 1
start_nsd || exit 1

METRICS_PORT=$(free_port)
cat > "$TB_DIR/mxguard.conf" <<EOF
[store]
backend = redis
redis = 127.0.0.1:$REDIS_PORT
timeout = 500ms
[metrics]
listen = 127.0.0.1:$METRICS_PORT
EOF
cat > "$TB_DIR/policy.conf" <<EOF
[engine]
stages = rbl helo rdns ratelimit callout
whitelist_clients =
dns_budget = 3s
[rbl]
on_failure = accept
timeout = 1500ms
zone = dnsbl.example.net=127.0.0.[2..11]*1
threshold = 1
[helo]
on_failure = tempfail
timeout = 1500ms
[rdns]
on_failure = tempfail
timeout = 1500ms
no_ptr = reject
not_confirmed = off
[ratelimit]
on_failure = tempfail
limit = mail_per_ip key=client_ip count=messages rate=6000/min burst=1000
[callout]
on_failure = tempfail
port = $PROBE_PORT
allow_private = yes
accept_all_probe = no
connect_timeout = 1s
command_timeout = 1s
probe_timeout = 2s
max_probes = 100
max_probes_per_domain = 100
max_probes_per_domain_per_minute = 100000
EOF
MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" --config "$TB_DIR/mxguard.conf" || exit 1
start_postfix || exit 1
threads_before=$(awk '/^Threads:/ {print $2}' "/proc/$MXGUARD_PID/status")

metric() {  # STAGE: mxguard_dependency_failures_total{stage="STAGE"}, 0 when absent
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    awk -v s="mxguard_dependency_failures_total{stage=\"$1\"}" '$1 == s {print $2; f=1} END {if (!f) print 0}'
}

PHASES="$TB_DIR/phases"
: > "$PHASES"
now() { date +%s.%N; }
# fault NAME STAGE BREAK-COMMAND RESTORE-COMMAND: one fault, its recovery, and their timestamps.
fault() {
  local name=$1 stage=$2 before tb t0 t1
  [[ " $FAULTS " == *" $name "* ]] || return 0
  before=$(metric "$stage")
  tb=$(now)  # the log window opens here: breaking it can fail transactions at once
  eval "$3"
  t0=$(now)  # messages count as inside once the fault is in place (stopping nsd takes a moment)
  sleep "$FAULT_S"
  t1=$(now)
  eval "$4"
  sleep "$RECOVER_S"
  echo "$name $stage $tb $t0 $t1 $(now) $before $(metric "$stage")" >> "$PHASES"
}
nsd_back() { stop_slow_dns; stop_nsd; start_nsd > /dev/null || bad "nsd did not restart"; }
# DNS answers after 5 s: nsd moves to a port of its own, and a proxy on mxguard's DNS port hands
# on its answers 5 s late (right answers, only slow, as from an overloaded resolver).
slow_dns() {
  local port=$NSD_PORT upstream
  stop_nsd
  NSD_PORT=$(free_port)
  start_nsd > /dev/null || bad "nsd did not start behind the delaying proxy"
  upstream=$NSD_PORT NSD_PORT=$port
  python3 "$here/testbed/delaying_dns_proxy.py" --port "$NSD_PORT" --upstream "127.0.0.1:$upstream" \
    --delay-ms 5000 > /dev/null 2>&1 &
  slow_pid=$!
}

# The load: 20 sessions at a time for the whole run, each message from its own client address
# and sender.
python3 "$here/reliability/smtp_load.py" --port "$SMTP_PORT" --messages 10000000 \
  --sessions "$SESSIONS" --stop-file "$TB_DIR/stop-load" --run faults --xclient-seq 198.18.0.2 \
  --xclient-name load.client.example.net --from 'u{n}@sender.example.net' \
  --rcpt "user@$TB_MAIL_DOMAIN" --timeout 60 --log "$TB_DIR/messages.jsonl" \
  > "$TB_DIR/load.json" 2> "$TB_DIR/load.err" &
load_pid=$!
stop_load() { kill "$load_pid" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_load)
# Warm-up: the first 50 messages accepted (a cold resolver on a busy machine can take seconds).
for ((i = 0; i < 600; i++)); do
  n=$(grep -c '"kind": "accepted"' "$TB_DIR/messages.jsonl" 2>/dev/null)
  ((${n:-0} >= 50)) && break
  sleep 0.1
done
fault dns_stop rdns 'stop_nsd' 'nsd_back'
fault dns_slow rdns 'slow_dns' 'nsd_back'
fault redis_stop ratelimit 'stop_redis' 'start_redis || bad "redis did not restart"'
fault redis_pause ratelimit 'kill -STOP $redis_pid' 'kill -CONT $redis_pid'
fault callout_silent callout 'stop_probe_server; start_probe_server tarpit' \
  'stop_probe_server; start_probe_server accept-all'
fault callout_drip callout 'stop_probe_server; start_probe_server drip' \
  'stop_probe_server; start_probe_server accept-all'
touch "$TB_DIR/stop-load"
wait "$load_pid"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("accepted_ids", None); d["replies"] = "%d distinct" % len(d["replies"]); print("load:", d)' "$TB_DIR/load.json"

# The analysis: per fault, the messages inside it, their answers and latencies; after it, the
# recovery. Bounds: DNS faults the 3 s DNS budget + 1.5 s; Redis 2 x 500 ms + 1.5 s; the
# callout 2 s probe deadline + 1.5 s (Postfix and the load client add their own scheduling).
python3 - "$PHASES" "$TB_DIR/messages.jsonl" "$MXGUARD_LOG" > "$TB_DIR/analysis.out" <<'EOF'
import json, re, sys
phases = [l.split() for l in open(sys.argv[1])]
msgs = [json.loads(l) for l in open(sys.argv[2])]
log = open(sys.argv[3], errors="replace").read().splitlines()
expect = {
    "dns_stop": (r"450 4\.7\.25 Client host rejected: cannot find your hostname, \[198\.18\.\d+\.\d+\]", 4.5),
    "dns_slow": (r"450 4\.7\.25 Client host rejected: cannot find your hostname, \[198\.18\.\d+\.\d+\]", 4.5),
    "redis_stop": (r"451 4\.3\.0 Temporary failure: rate limit state unavailable; try again later", 2.5),
    "redis_pause": (r"451 4\.3\.0 Temporary failure: rate limit state unavailable; try again later", 2.5),
    "callout_silent": (r"450 4\.1\.7 <u\d+@sender\.example\.net>: Sender address rejected: unverified address: .*", 3.5),
    "callout_drip": (r"450 4\.1\.7 <u\d+@sender\.example\.net>: Sender address rejected: unverified address: .*", 3.5),
}
def out(kind, text):
    print(("ok: " if kind else "FAIL: ") + text)
bad_kinds = [m for m in msgs if m["kind"] in ("error", "reject")]
out(not bad_kinds, "%d messages, none unanswered or 5xx%s" % (len(msgs), "" if not bad_kinds else ": %s" % bad_kinds[:3]))
first = float(phases[0][2])
base = [m for m in msgs if m["end"] < first]
out(base and all(m["kind"] == "accepted" for m in base), "before any fault: %d messages, all accepted" % len(base))
for name, stage, tb, t0, t1, t2, m0, m1 in phases:
    tb, t0, t1, t2 = float(tb), float(t0), float(t1), float(t2)
    pattern, bound = expect[name]
    inside = [m for m in msgs if m["start"] >= t0 + 0.2 and m["end"] <= t1]
    wrong = [m for m in inside if m["kind"] != "tempfail" or not re.fullmatch(pattern, m["line"])]
    worst = max((m["end"] - m["start"] for m in inside), default=0)
    out(inside and not wrong, "%s: %d messages inside the fault, all deferred with the on_failure reply%s" %
        (name, len(inside), "" if not wrong else "; not: %s" % [(m["kind"], m["line"]) for m in wrong[:3]]))
    if inside:
        print("   %s: e.g. '%s'" % (name, inside[-1]["line"]))
    out(worst <= bound, "%s: worst message latency %.2f s (bound %.1f s)" % (name, worst, bound))
    during = [m for m in msgs if m["start"] >= t0 and m["start"] < t1]
    rate = len(during) / (t1 - t0)
    print("   %s: %.0f messages/s started during the fault" % (name, rate))
    after = sorted((m for m in msgs if m["start"] >= t1 and m["end"] <= t2), key=lambda m: m["start"])
    last_bad = max((m["start"] for m in after if m["kind"] != "accepted"), default=t1)
    settled = [m for m in after if m["start"] > last_bad]
    late = [m for m in after if m["kind"] != "accepted"]
    if late:
        print("   %s: %d deferred after it came back, the last started %.2f s after: '%s'" %
              (name, len(late), late[-1]["start"] - t1, late[-1]["line"]))
    out(len(settled) >= 10 and last_bad - t1 <= 3.0,
        "%s: recovered %.2f s after the dependency came back; then %d messages all accepted" %
        (name, last_bad - t1, len(settled)))
    delta = float(m1) - float(m0)
    n_deferred = len([m for m in msgs if m["start"] >= t0 and m["end"] <= t2 and m["kind"] == "tempfail"])
    out(delta >= len(inside), "%s: metrics: dependency_failures{stage=%s} +%d (%d deferred in the window)" %
        (name, stage, delta, n_deferred))
    def stamp(line):  # 2026-12-02T00:59:41Z -> epoch
        import calendar, time
        return calendar.timegm(time.strptime(line[:20], "%Y-%m-%dT%H:%M:%SZ"))
    import math
    stamped = [(stamp(l), l) for l in log if l[:4].isdigit()]
    started = [l for t, l in stamped if math.floor(tb) <= t <= math.ceil(t1) and
               ("warning: %s: " % stage) in l and "[dependency incident started]" in l]
    ended = [l for t, l in stamped if math.floor(t1) <= t <= math.ceil(t2) and
             ("info: %s: dependency recovered" % stage) in l]
    out(len(started) == 1 and len(ended) == 1,
        "%s: log: %d incident start and %d recovery line for %s%s" % (name, len(started), len(ended), stage,
        "" if not started else "\n   " + started[0][started[0].find(stage + ":"):] + ("\n   " + ended[0][ended[0].find(stage + ":"):] if ended else "")))
EOF
cat "$TB_DIR/analysis.out"
echo "incident lines in the log:"
grep -E "dependency incident (started|ended)" "$MXGUARD_LOG" | sed 's/^/   /'
cat "$PHASES" | sed 's/^/   phase /'
passed=$((passed + $(grep -c '^ok: ' "$TB_DIR/analysis.out")))
failed=$((failed + $(grep -c '^FAIL: ' "$TB_DIR/analysis.out")))

# No thread left stuck: the daemon is back to its idle thread count and answers at once.
sleep 1
threads_after=$(awk '/^Threads:/ {print $2}' "/proc/$MXGUARD_PID/status")
((threads_after <= threads_before + 2)) && ok "threads: $threads_before before, $threads_after after the load" \
  || bad "threads: $threads_before before, $threads_after after (stuck connections?)"
python3 "$here/reliability/smtp_load.py" --port "$SMTP_PORT" --messages 5 --sessions 1 \
  --run after --xclient-seq 198.18.200.1 --xclient-name load.client.example.net \
  --from 'late{n}@sender.example.net' --rcpt "user@$TB_MAIL_DOMAIN" > "$TB_DIR/after.json"
grep -q '"accepted": 5' "$TB_DIR/after.json" && ok "afterwards: 5 of 5 accepted" \
  || bad "afterwards: $(cat "$TB_DIR/after.json")"
stop_mxguard || bad "mxguard did not stop cleanly (or a sanitizer report)"
tb_summary
