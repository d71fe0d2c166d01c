#!/usr/bin/env bash
# ratelimit_test.sh - the ratelimit stage through a real Postfix and a real redis-server:
# smtp-source sends above a message limit, and the test counts admitted (delivered) and refused
# (Postfix's milter-reject log lines) messages and checks the exact reply; a fleet of two mxguard
# daemons on one Redis (two smtpd ports of one Postfix, each with its own milter) enforces one
# combined limit while both send at full rate; Redis stopped mid-run gives on_failure (accept),
# logged once, and limiting resumes by itself when Redis is back; mxguard-check shows the limit's
# state.
# Must not: assume a Redis or a Postfix is running; everything here is started and stopped here.
set -uo pipefail
MXGUARD=$1
CHECK=$2
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init
tb_require redis-server redis-cli smtp-source postfix

REDIS_PORT=$(free_port)
second_pid=""
stop_second() {
  [[ -n "$second_pid" ]] || return 0
  kill -TERM "$second_pid" 2>/dev/null
  wait_pid_gone "$second_pid" 15 || kill -KILL "$second_pid" 2>/dev/null
  wait "$second_pid" 2>/dev/null
  second_pid=""
}
TB_CLEANUP_HOOKS+=(stop_second)
start_redis || exit 1
start_nsd || exit 1

printf '%s\n' "[store]" "backend = redis" "redis = 127.0.0.1:$REDIS_PORT" "timeout = 300ms" \
  > "$TB_DIR/mxguard.conf"
# smtp-source connects from 127.0.0.1: nothing is whitelisted. One limit on messages per client;
# the burst is what is admitted at once, then 1 a second.
printf '%s\n' "[engine]" "stages = ratelimit" "whitelist_clients =" "[ratelimit]" \
  "on_failure = accept" \
  "limit = mail_per_ip key=client_ip count=messages rate=60/min burst=10" > "$TB_DIR/policy.conf"

MILTER_PORT=$(free_port)
SECOND_MILTER_PORT=$(free_port)
SECOND_SMTP_PORT=$(free_port)
# A second smtpd on its own port whose milter is the second daemon (the fleet's other MX).
export TB_POSTFIX_EXTRA_MASTER="127.0.0.1:$SECOND_SMTP_PORT inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$SECOND_MILTER_PORT"
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" --config "$TB_DIR/mxguard.conf" || exit 1
"$MXGUARD" --foreground --allow-root --socket "inet:$SECOND_MILTER_PORT@127.0.0.1" --policy "$TB_DIR/policy.conf" \
  --config "$TB_DIR/mxguard.conf" --dns "127.0.0.1@$NSD_PORT" --hostname mx.example.net \
  2>>"$TB_DIR/second.log" &
second_pid=$!
tb_wait_log "$TB_DIR/second.log" "listening on" 10 >/dev/null || { bad "second mxguard did not start"; exit 1; }
start_postfix || exit 1

delivered() { find "$POSTFIX_MAILDIR_BASE/user/new" -type f 2>/dev/null | wc -l; }
refused() { grep -c "milter-reject: RCPT from .*: 450 4.7.1 Error: too much mail" "$POSTFIX_LOG" 2>/dev/null; }
wait_settled() {  # until the delivered count stops changing (the queue is drained)
  local last=-1 n i
  for ((i = 0; i < 100; i++)); do
    n=$(delivered)
    [[ "$n" == "$last" ]] && break
    last=$n
    sleep 0.2
  done
}
source_run() {  # PORT MESSAGES SESSIONS
  smtp-source -A -s "$3" -m "$2" -l 500 -f sender@example.org -t "user@$TB_MAIL_DOMAIN" \
    -M mail.client.example.net "127.0.0.1:$1" >/dev/null 2>&1
}

# 1. One daemon: 40 messages as fast as one session sends them.
start=$(date +%s%N)
source_run "$SMTP_PORT" 40 1
secs=$(( ($(date +%s%N) - start) / 1000000000 + 1 ))
wait_settled
d=$(delivered)
r=$(refused)
expect_eq "40 sent = delivered + refused" 40 $((d + r))
# Admitted: the burst of 10 plus 1 a second while it ran (rounded up), never more.
((d >= 10 && d <= 10 + secs)) && ok "admitted $d in ${secs}s (burst 10 + 1/s)" \
  || bad "admitted $d in ${secs}s, expected 10..$((10 + secs))"
line=$(grep -m1 "milter-reject: RCPT from" "$POSTFIX_LOG" | sed 's/.*milter-reject: RCPT from [^:]*: //; s/; from=<.*//')
expect_eq "the refusal" \
  '450 4.7.1 Error: too much mail from client 127.0.0.1 (limit "mail_per_ip": 60/min messages, burst 10); try again in 1 second' \
  "$line"

# 2. The fleet: both daemons at full rate on one bucket. Fresh bucket, both ports at once.
redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
before_d=$(delivered) before_r=$(refused)
start=$(date +%s%N)
source_run "$SMTP_PORT" 60 2 &
a=$!
source_run "$SECOND_SMTP_PORT" 60 2 &
b=$!
wait "$a" "$b"
secs=$(( ($(date +%s%N) - start) / 1000000000 + 1 ))
wait_settled
d=$(( $(delivered) - before_d ))
r=$(( $(refused) - before_r ))
expect_eq "fleet: 120 sent = delivered + refused" 120 $((d + r))
# One bucket for both: at most burst + rate x time (+1 for the refill between two takes).
((d >= 10 && d <= 10 + secs + 1)) && ok "fleet: admitted $d of 120 in ${secs}s (one limit of 10 + 1/s)" \
  || bad "fleet: admitted $d in ${secs}s, expected 10..$((10 + secs + 1)) (two separate limits would admit ~20+)"
grep -q "reason=ratelimit.mail_per_ip" "$TB_DIR/second.log" \
  && ok "fleet: the second daemon refused too" || bad "fleet: the second daemon never refused"

# 3. Redis stops mid-run: on_failure = accept, one log line per outage, counted; then back.
stop_redis
before_d=$(delivered)
source_run "$SMTP_PORT" 5 1
wait_settled
expect_eq "redis down: all 5 accepted (on_failure = accept)" 5 $(( $(delivered) - before_d ))
n=$(grep -c "store: redis 127.0.0.1:$REDIS_PORT unavailable" "$MXGUARD_LOG")
expect_eq "redis down: logged once for the outage" 1 "$n"
n=$(grep -c "ratelimit: ratelimit.store_failure .*on_failure = accept, continuing" "$MXGUARD_LOG")
expect_eq "redis down: the on_failure warning once, not per message" 1 "$n"
grep -q "stages=ratelimit:store_failure/accepted_on_failure action=accept" "$MXGUARD_LOG" \
  && ok "redis down: transactions say accepted_on_failure" || bad "no accepted_on_failure in the log"
start_redis || exit 1
sleep 1.2  # past the store's fail-fast window
before_d=$(delivered) before_r=$(refused)
source_run "$SMTP_PORT" 15 1
wait_settled
d=$(( $(delivered) - before_d ))
r=$(( $(refused) - before_r ))
((d >= 10 && d < 15 && r > 0)) && ok "redis back: limiting resumed ($d admitted, $r refused)" \
  || bad "redis back: $d admitted, $r refused"
grep -q "store: redis 127.0.0.1:$REDIS_PORT is back" "$MXGUARD_LOG" \
  && ok "redis back: logged" || bad "no recovery line: $(grep -i redis "$MXGUARD_LOG" | tail -3)"

# 4. The harness shows the limit's state (tokens left, or the retry time).
out=$("$CHECK" --policy "$TB_DIR/policy.conf" --config "$TB_DIR/mxguard.conf" \
      --dns "127.0.0.1@$NSD_PORT" --client-ip 192.0.2.99 --helo mail.example.org \
      --from a@example.org --rcpt user@example.org 2>&1)
[[ "$out" == *"mail ratelimit: ok (mail_per_ip (client 192.0.2.99): 9 of 10 left)"* ]] \
  && ok "harness: tokens left in the trace" || bad "harness: $out"

stop_second
stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
