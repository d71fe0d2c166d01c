#!/usr/bin/env bash
# greylist_test.sh - the greylist stage through a real Postfix and a real redis-server: two
# mxguard daemons on one Redis as two MX hosts of one domain (two smtpd ports of one Postfix, each
# with its own milter); the first attempt at host A is deferred with the exact 451, a too-early
# retry at host B is deferred again, the retry at B after `delay` passes and is delivered. Then
# Redis is killed: on_failure = accept, one incident line for several messages; Redis back on the
# same port: greylisting works again and the incident's recovery is logged. /metrics of both
# daemons: the retry delay histogram and the stage outcome counters.
# Must not: assume a Redis or a Postfix is running; everything here is started and stopped here.
set -uo pipefail
MXGUARD=${1:?usage: greylist_test.sh MXGUARD MXGUARD-CHECK}
here="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/testbed/testbed.sh
source "$here/testbed/testbed.sh"
tb_require redis-server python3 nsd nsd-checkconf dig swaks postfix postconf curl
[[ -x "$MXGUARD" ]] || { echo "FAIL: $MXGUARD is not executable"; exit 1; }
[[ $(id -u) -eq 0 ]] || tb_skip "a private Postfix instance needs root"
tb_init

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
start_redis || { echo "FAIL: redis-server did not start"; exit 1; }
start_nsd || { echo "FAIL: nsd did not start"; exit 1; }

# Both daemons share the Redis; each has its own /metrics listener.
METRICS_A=$(free_port)
METRICS_B=$(free_port)
for host in a b; do
  port=$METRICS_A
  [[ $host == b ]] && port=$METRICS_B
  printf '%s\n' "[store]" "backend = redis" "redis = 127.0.0.1:$REDIS_PORT" "timeout = 300ms" \
    "[metrics]" "listen = 127.0.0.1:$port" > "$TB_DIR/mxguard-$host.conf"
done
# swaks presents 192.0.2.10 through XCLIENT: nothing is whitelisted.
printf '%s\n' "[engine]" "stages = greylist" "whitelist_clients =" "[greylist]" "delay = 3s" \
  "retry_window = 1h" "on_failure = accept" > "$TB_DIR/policy.conf"

MILTER_PORT=$(free_port)
SECOND_MILTER_PORT=$(free_port)
SECOND_SMTP_PORT=$(free_port)
# Host B: a second smtpd on its own port whose milter is the second daemon (the domain's other MX).
export TB_POSTFIX_EXTRA_MASTER="127.0.0.1:$SECOND_SMTP_PORT inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$SECOND_MILTER_PORT"
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" --config "$TB_DIR/mxguard-a.conf" \
  || { echo "FAIL: mxguard A did not start"; exit 1; }
SECOND_LOG="$TB_DIR/second.log"
"$MXGUARD" --foreground --allow-root --socket "inet:$SECOND_MILTER_PORT@127.0.0.1" \
  --policy "$TB_DIR/policy.conf" --config "$TB_DIR/mxguard-b.conf" --dns "127.0.0.1@$NSD_PORT" \
  --hostname mx2.example.net 2>>"$SECOND_LOG" &
second_pid=$!
tb_wait_log "$SECOND_LOG" "listening on" 10 >/dev/null || { echo "FAIL: mxguard B did not start"; exit 1; }
start_postfix || { echo "FAIL: Postfix did not start"; exit 1; }

# session FILE PORT SENDER SUBJECT: one session as 192.0.2.10 (mail.client.example.net) to
# user@example.org at host A (SMTP_PORT) or B (SECOND_SMTP_PORT).
session() {
  local file=$1 port=$2 sender=$3 subject=$4
  swaks --server 127.0.0.1 --port "$port" --timeout 30 --hide-informational \
    --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
    --xclient-reverse-name mail.client.example.net --ehlo mail.client.example.net \
    --from "$sender" --to "user@$TB_MAIL_DOMAIN" --header "Subject: $subject" \
    > "$TB_DIR/$file.swaks" 2>&1
}
# rcpt_reply FILE / data_reply FILE: the reply to the first RCPT / to the end of DATA ('.').
rcpt_reply() {
  awk '/^ -> RCPT TO:/ { w = 1; next } w && /^<(\*\*|-) / { sub(/^<(\*\*|-) +/, ""); print; exit }' \
    "$TB_DIR/$1.swaks"
}
data_reply() {
  awk '/^ -> \.$/ { w = 1; next } w && /^<(\*\*|-) / { sub(/^<(\*\*|-) +/, ""); print; exit }' \
    "$TB_DIR/$1.swaks"
}
# wait_log_re FILE REGEX [SECONDS]: until FILE has a line matching REGEX (grep -E; a transaction's
# line is written when Postfix closes the milter session, after swaks returned).
wait_log_re() {
  local i
  for ((i = 0; i < ${3:-5} * 20; i++)); do
    grep -qE -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
GREYLISTED="451 4.7.1 <user@example.org>: Recipient address rejected: Greylisted: please try again in"

# 1. The fleet: first attempt at A, an early retry at B, the retry at B after the delay.
S1="first@client.example.net"
session a-first "$SMTP_PORT" "$S1" "greylist first"
first_at=$(date +%s%N)
expect_eq "A, first attempt: RCPT deferred" "$GREYLISTED 3 seconds" "$(rcpt_reply a-first)"
session b-early "$SECOND_SMTP_PORT" "$S1" "greylist early"
got=$(rcpt_reply b-early)
if [[ "$got" =~ ^"$GREYLISTED "[123]" second"s?$ ]]; then ok "B, retry before the delay: deferred again: '$got'"
else bad "B, retry before the delay: got '$got' (transcript: $TB_DIR/b-early.swaks)"; fi
# Past the delay (the store counts whole seconds): 4 s after the first attempt.
left=$(( 4000 - ($(date +%s%N) - first_at) / 1000000 ))
((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
session b-retry "$SECOND_SMTP_PORT" "$S1" "greylist retry"
expect_eq "B, retry after the delay: RCPT" "250 2.1.5 Ok" "$(rcpt_reply b-retry)"
got=$(data_reply b-retry)
[[ "$got" == "250 2.0.0 Ok: queued as "* ]] && ok "B, retry after the delay: queued: '$got'" \
  || bad "B, retry: end of DATA: '$got' (transcript: $TB_DIR/b-retry.swaks)"
tb_wait_delivery user "Subject: greylist retry" 10 >/dev/null \
  && ok "B, retry: delivered to user@" || bad "B, retry: not delivered"
wait_log_re "$MXGUARD_LOG" "stages=greylist:greylisted" \
  && ok "A's summary: $(grep -oE 'stages=greylist:greylisted[^ ]*' "$MXGUARD_LOG" | head -1)" \
  || bad "A's log has no greylist:greylisted: $(grep ' action=' "$MXGUARD_LOG" | tail -3)"
wait_log_re "$SECOND_LOG" "stages=greylist:passed_retry" \
  && ok "B's summary: $(grep -oE 'stages=greylist:passed_retry[^ ]*' "$SECOND_LOG" | head -1)" \
  || bad "B's log has no greylist:passed_retry: $(grep ' action=' "$SECOND_LOG" | tail -3)"
grep -qE "stages=greylist:greylisted" "$SECOND_LOG" \
  && ok "B's early retry: greylisted in its log" || bad "B's log has no greylisted early retry"

# 2. Redis killed mid-run: on_failure = accept, one incident line however many messages.
stop_redis
for i in 1 2 3; do
  session "down-$i" "$SMTP_PORT" "down$i@client.example.net" "greylist redis down $i"
  expect_eq "redis down $i: RCPT accepted (on_failure = accept)" "250 2.1.5 Ok" "$(rcpt_reply "down-$i")"
  tb_wait_delivery user "Subject: greylist redis down $i" 10 >/dev/null \
    && ok "redis down $i: delivered" || bad "redis down $i: not delivered"
done
last_failure=$(date +%s%N)
wait_log_re "$MXGUARD_LOG" "down3@client.example.net.*action=accept" >/dev/null
n=$(grep -c "greylist: greylist.store_failure .*on_failure = accept, continuing \[dependency incident started\]" "$MXGUARD_LOG")
expect_eq "redis down: one incident line for the greylist stage" 1 "$n"
n=$(grep -c "greylist: greylist.store_failure" "$MXGUARD_LOG")
expect_eq "redis down: no line per message (3 messages)" 1 "$n"
n=$(grep -c "store: redis 127.0.0.1:$REDIS_PORT unavailable" "$MXGUARD_LOG")
expect_eq "redis down: the store logged it once" 1 "$n"
n=$(grep -c "stages=greylist:store_failure/accepted_on_failure action=accept" "$MXGUARD_LOG")
expect_eq "redis down: transactions say accepted_on_failure" 3 "$n"

# Redis back on the same port (start_redis keeps REDIS_PORT). The incident ends on the first
# success 5 s or more after the last failure: send the new triplet after that.
start_redis || { bad "redis-server did not restart"; exit 1; }
left=$(( 5500 - ($(date +%s%N) - last_failure) / 1000000 ))
((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
session a-back "$SMTP_PORT" "back@client.example.net" "greylist redis back"
expect_eq "redis back: a new triplet is greylisted again" "$GREYLISTED 3 seconds" "$(rcpt_reply a-back)"
line=$(tb_wait_log "$MXGUARD_LOG" "greylist: dependency recovered after 3 failures" 5)
[[ "$line" == *"[dependency incident ended]"* ]] && ok "redis back: recovery logged: '$line'" \
  || bad "redis back: no recovery line: $(grep -E 'greylist|redis' "$MXGUARD_LOG" | tail -3)"
grep -q "store: redis 127.0.0.1:$REDIS_PORT is back" "$MXGUARD_LOG" \
  && ok "redis back: the store logged it" || bad "redis back: no 'is back' line"

# 3. Metrics: B passed one retry (from the prefix network, not a pool); the outcome counters.
curl -sS --max-time 5 "http://127.0.0.1:$METRICS_A/metrics" > "$TB_DIR/a.prom"
curl -sS --max-time 5 "http://127.0.0.1:$METRICS_B/metrics" > "$TB_DIR/b.prom"
echo "-- A: $(grep -E 'greylist' "$TB_DIR/a.prom" | grep -vE '^#|_bucket' | tr '\n' ';')"
echo "-- B: $(grep -E 'greylist' "$TB_DIR/b.prom" | grep -vE '^#|_bucket' | tr '\n' ';')"
metric() {  # FILE SERIES: the value of one exact series line, or "absent"
  awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " { print substr($0, length(s) + 2); f = 1 }
                 END { if (!f) print "absent" }' "$TB_DIR/$1.prom"
}
expect_metric() { expect_eq "$1: $2" "$3" "$(metric "$1" "$2")"; }
expect_metric b 'mxguard_greylist_retry_delay_seconds_count{network="prefix"}' 1
# The wait the retry saw: 4 s after the first attempt (5 when a second boundary fell between).
got=$(metric b 'mxguard_greylist_retry_delay_seconds_sum{network="prefix"}')
[[ "$got" == 4 || "$got" == 5 ]] && ok "b: the retry waited $got s" || bad "b: retry delay sum '$got'"
expect_metric b 'mxguard_stage_outcomes_total{stage="greylist",outcome="greylisted",effect="tempfail"}' 1
expect_metric b 'mxguard_stage_outcomes_total{stage="greylist",outcome="passed_retry",effect="none"}' 1
expect_metric a 'mxguard_greylist_retry_delay_seconds_count{network="prefix"}' absent
# A: the first attempt and the post-recovery triplet greylisted; the 3 outage messages accepted.
expect_metric a 'mxguard_stage_outcomes_total{stage="greylist",outcome="greylisted",effect="tempfail"}' 2
expect_metric a 'mxguard_stage_outcomes_total{stage="greylist",outcome="store_failure",effect="accepted_on_failure"}' 3
expect_metric a 'mxguard_dependency_failures_total{stage="greylist"}' 3

stop_redis
kill -TERM "$second_pid" 2>/dev/null  # both daemons notice SIGTERM in parallel
stop_mxguard && ok "mxguard A exited cleanly" || bad "mxguard A exit/sanitizer"
stop_second
grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$SECOND_LOG" \
  && bad "sanitizer report in B's log" || ok "mxguard B: no sanitizer report"
tb_summary
