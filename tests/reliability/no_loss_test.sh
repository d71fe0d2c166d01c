#!/usr/bin/env bash
# no_loss_test.sh - nothing lost while the daemon dies or reloads under load. Postfix runs with
# milter_default_action = tempfail and delivers to a Maildir; smtp_load.py sends messages and
# records, for each, 250 / 4xx / 5xx / no answer. Three runs:
#   kill:   kill -9 the daemon mid-run (MXGUARD_NO_LOSS_KILLS times), restart it each time;
#   reload: SIGHUP with a valid policy several times mid-run;
#   broken: SIGHUP with a broken policy mid-run (refused; the old policy keeps serving).
# Each run must have: accepted + deferred = sent, no 5xx, no message without an answer, and the
# delivered messages (matched by Subject) exactly the accepted ones. The reload runs must defer
# nothing at all. Long version: MXGUARD_NO_LOSS_MESSAGES=20000 MXGUARD_NO_LOSS_KILLS=5.
# Must not: count on timing beyond "the kill lands while messages are in flight".
set -uo pipefail
MXGUARD=$1
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init
tb_require python3 postfix postqueue
MESSAGES=${MXGUARD_NO_LOSS_MESSAGES:-600}
KILLS=${MXGUARD_NO_LOSS_KILLS:-1}
SESSIONS=${MXGUARD_NO_LOSS_SESSIONS:-20}

policy() {  # the running policy; $1 = extra [headers] line (a change a reload can pick up)
  cat <<EOF
[engine]
stages = rbl helo rdns headers
whitelist_clients =
[rbl]
on_failure = accept
timeout = 2s
zone = dnsbl.example.net=127.0.0.[2..11]*1
threshold = 1
[helo]
on_failure = tempfail
timeout = 2s
[rdns]
on_failure = tempfail
timeout = 2s
[headers]
${1:-}
EOF
}
policy > "$TB_DIR/policy.conf"
start_nsd || exit 1
MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" || exit 1
start_postfix || exit 1
MAILDIR="$POSTFIX_MAILDIR_BASE/user/new"

# load RUN: in the background; its JSON goes to $TB_DIR/RUN.json, accepted subjects to RUN.ids.
load() {
  python3 "$here/reliability/smtp_load.py" --port "$SMTP_PORT" --messages "$MESSAGES" \
    --sessions "$SESSIONS" --run "$1" --xclient-addr 192.0.2.10 --rcpt "user@$TB_MAIL_DOMAIN" \
    --ids-file "$TB_DIR/$1.ids" --progress 10 --progress-file "$TB_DIR/$1.progress" \
    > "$TB_DIR/$1.json" 2> "$TB_DIR/$1.err" &
  LOAD_PID=$!
}
stop_load() { [[ -n "${LOAD_PID:-}" ]] && kill "$LOAD_PID" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_load)
# wait_progress RUN COUNT: until the load has started COUNT messages; fails if it ended first.
wait_progress() {
  local n
  while kill -0 "$LOAD_PID" 2>/dev/null; do
    n=$(cat "$TB_DIR/$1.progress" 2>/dev/null || echo 0)
    ((${n:-0} >= $2)) && return 0
    sleep 0.05
  done
  return 1
}
# queue_empty: Postfix has delivered (or bounced) everything it accepted.
queue_empty() {
  for ((i = 0; i < 120; i++)); do
    postqueue -c "$POSTFIX_CONF" -p 2>/dev/null | grep -q "Mail queue is empty" && return 0
    sleep 0.5
  done
  return 1
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }
# account RUN MAX_DEFERRED: the bookkeeping every run must satisfy.
account() {
  local run=$1 max_deferred=$2 j="$TB_DIR/$1.json"
  wait "$LOAD_PID"
  queue_empty || bad "$run: the Postfix queue did not drain"
  local sent acc tmp rej err
  sent=$(field "$j" sent) acc=$(field "$j" accepted) tmp=$(field "$j" tempfail)
  rej=$(field "$j" reject) err=$(field "$j" error)
  echo "$run: $(cat "$j" | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d[k] for k in ("sent","accepted","tempfail","reject","error","replies","latency_ms","max_reply_ms","elapsed_s")})')"
  if ((acc + tmp == sent && rej == 0 && err == 0)); then
    ok "$run: $sent sent = $acc accepted + $tmp deferred (4xx); no 5xx, none unanswered"
  else bad "$run: sent $sent, accepted $acc, deferred $tmp, rejected $rej, unanswered $err"; fi
  ((tmp <= max_deferred)) && ok "$run: $tmp deferred (at most $max_deferred)" \
    || bad "$run: $tmp deferred, more than $max_deferred"
  find "$MAILDIR" -type f -exec grep -h -m1 "^Subject: $run-" {} + 2>/dev/null \
    | sed 's/^Subject: //' | sort > "$TB_DIR/$run.delivered"
  sort "$TB_DIR/$run.ids" > "$TB_DIR/$run.accepted"
  local delivered
  delivered=$(wc -l < "$TB_DIR/$run.delivered")
  if cmp -s "$TB_DIR/$run.accepted" "$TB_DIR/$run.delivered"; then
    ok "$run: the $delivered delivered messages are exactly the $acc accepted ones"
  else
    bad "$run: delivered $delivered, accepted $acc; first differences:" \
      "$(diff "$TB_DIR/$run.accepted" "$TB_DIR/$run.delivered" | head -5)"
  fi
}

# 1. kill -9 mid-run, restarted each time.
load kill
for ((k = 1; k <= KILLS; k++)); do
  wait_progress kill $((MESSAGES * k / (KILLS + 1))) || { bad "kill: load ended early"; break; }
  kill -KILL "$MXGUARD_PID"
  wait "$MXGUARD_PID" 2>/dev/null
  MXGUARD_PID=""
  sleep 0.5  # messages in flight meanwhile: Postfix must defer them, not lose or accept them
  start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" || { bad "restart $k failed"; exit 1; }
done
account kill "$MESSAGES"
deferred=$(field "$TB_DIR/kill.json" tempfail)
((deferred > 0)) && ok "kill: the kills hit messages in flight ($deferred deferred)" \
  || bad "kill: no message was deferred: the kill missed the load"
python3 - "$TB_DIR/kill.json" <<'EOF' && ok "kill: every deferral is Postfix's milter-failure 451 4.7.1" || bad "kill: other deferral replies"
import json, sys
replies = json.load(open(sys.argv[1]))["replies"]
print("kill: deferral replies:", replies)
sys.exit(0 if all(r.startswith("451 4.7.1 ") for r in replies) else 1)
EOF

# 2. SIGHUP with valid policies, several times mid-run: nothing deferred.
load reload
reloads_before=$(grep -c "policy reloaded" "$MXGUARD_LOG")
for n in 1 2 3 4; do
  wait_progress reload $((MESSAGES * n / 5)) || { bad "reload: load ended early"; break; }
  if ((n % 2)); then policy "date_max_age = 300d" > "$TB_DIR/policy.conf"; else policy > "$TB_DIR/policy.conf"; fi
  kill -HUP "$MXGUARD_PID"
done
account reload 0
reloads=$(( $(grep -c "policy reloaded" "$MXGUARD_LOG") - reloads_before ))
[[ $reloads -eq 4 ]] && ok "reload: 4 reloads logged" || bad "reload: $reloads reloads logged, expected 4"

# 3. SIGHUP with a broken policy mid-run: refused, the old policy serves, nothing deferred.
load broken
wait_progress broken $((MESSAGES / 3)) || bad "broken: load ended early"
policy | sed 's/^\[helo\]$/[helo]\nnon_fqdn = sometimes/' > "$TB_DIR/policy.conf"
line=$(grep -n "^non_fqdn = sometimes" "$TB_DIR/policy.conf" | cut -d: -f1)
kill -HUP "$MXGUARD_PID"
account broken 0
if grep -q "policy reload refused, keeping the running policy: $TB_DIR/policy.conf:$line: helo.non_fqdn" "$MXGUARD_LOG" \
   && kill -0 "$MXGUARD_PID"; then ok "broken: reload refused with file:line, daemon still serving"
else bad "broken: $(grep -i reload "$MXGUARD_LOG" | tail -2)"; fi

stop_mxguard || bad "mxguard did not stop cleanly (or a sanitizer report)"
tb_summary
