#!/usr/bin/env bash
# callout_test.sh - sender verification end to end: swaks -> private Postfix -> mxguard (callout
# stage, Redis store) -> the sender domain's MX (a second private Postfix, whose log counts the
# probes) found through nsd. Then a second mxguard process on the same Redis (a fleet) and
# Redis stopped and restarted mid-run.
# Must not: probe anything but loopback (the policy allows private targets for this test only).
set -uo pipefail
MXGUARD=$1
CHECK=$2
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init
tb_require redis-server python3 postfix

start_nsd || exit 1
REDIS_PORT=$(free_port)
TB_CLEANUP_HOOKS+=(stop_remote_postfix)
start_redis || exit 1

# The sender domains' MX: a second private Postfix on its own loopback port, with a virtual
# mailbox table (alice@sender.example.net exists, anyone else there is "User unknown";
# acceptall.example.net has a catch-all). Each probe is one "connect from" in its log.
PROBE_PORT=$(free_port)
REMOTE="$TB_DIR/remote"
start_remote_postfix() {
  mkdir -p "$REMOTE/etc" "$REMOTE/queue" "$REMOTE/data" "$REMOTE/mail"
  chown postfix "$REMOTE/data"
  chown "$(id -u nobody):$(id -g nobody)" "$REMOTE/mail"
  cat > "$REMOTE/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $REMOTE/queue
data_directory = $REMOTE/data
mail_owner = postfix
setgid_group = postdrop
myhostname = smtp.sender.example.net
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
maillog_file = $REMOTE/maillog
maillog_file_prefixes = $TB_DIR
virtual_mailbox_domains = sender.example.net acceptall.example.net
virtual_mailbox_base = $REMOTE/mail
virtual_mailbox_maps = inline:{ alice@sender.example.net=alice/, @acceptall.example.net=catchall/ }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
alias_maps =
alias_database =
smtputf8_enable = no
smtpd_banner = \$myhostname ESMTP
EOF
  sed "s/^127\.0\.0\.1:$SMTP_PORT inet/127.0.0.1:$PROBE_PORT inet/" "$POSTFIX_CONF/master.cf" > "$REMOTE/etc/master.cf"
  postfix -c "$REMOTE/etc" start > "$REMOTE/start.out" 2>&1 || { tb_log "remote postfix: $(cat "$REMOTE/start.out")"; return 1; }
  wait_port 127.0.0.1 "$PROBE_PORT" 15
}
stop_remote_postfix() { postfix -c "$REMOTE/etc" stop > /dev/null 2>&1; }
PROBE_BASE=0
# probes_now: the count once the remote's log has settled (postlogd writes asynchronously).
probes_now() {
  local last=-1 n i
  for ((i = 0; i < 20; i++)); do
    n=$(probes)
    [[ $n -eq $last ]] && break
    last=$n
    sleep 0.15
  done
  echo "$n"
}
probes() { echo $(( $(grep -c ": connect from" "$REMOTE/maillog" 2>/dev/null || echo 0) - PROBE_BASE )); }

cat > "$TB_DIR/mxguard.conf" <<EOF
[store]
backend = redis
redis = 127.0.0.1:$REDIS_PORT
timeout = 300ms
EOF
cat > "$TB_DIR/policy.conf" <<EOF
[engine]
stages = callout
whitelist_clients =
[callout]
on_failure = tempfail
port = $PROBE_PORT
allow_private = yes
connect_timeout = 1s
command_timeout = 2s
probe_timeout = 5s
EOF

MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" --config "$TB_DIR/mxguard.conf" || exit 1
start_postfix || exit 1
start_remote_postfix || exit 1
tb_wait_log "$REMOTE/maillog" "disconnect from" 5 >/dev/null  # wait_port's own test connection
PROBE_BASE=$(probes)

# send NAME SENDER: a message from 192.0.2.10 (a clean client) with that envelope sender.
send() {
  tb_swaks --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
    --xclient-reverse-name mail.client.example.net --ehlo mail.client.example.net \
    --from "$2" --to "user@$TB_MAIL_DOMAIN" --header "Subject: $1" > "$TB_DIR/$1.swaks"
}
# rcpt_reply NAME: the first reply line to RCPT TO in that transcript.
rcpt_reply() {
  awk '/^ -> RCPT TO:/ {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' "$TB_DIR/$1.swaks"
}
expect() {  # expect NAME EXPECTED-RCPT-REPLY
  local got
  got=$(rcpt_reply "$1")
  if [[ "$got" == "$2" ]]; then ok "$1: '$2'"; else bad "$1: expected '$2', got '$got'"; fi
}

send existing alice@sender.example.net
expect existing "250 2.1.5 Ok"
tb_wait_delivery user existing >/dev/null && ok "existing: delivered" || bad "existing: not delivered"
[[ $(probes_now) -eq 1 ]] && ok "existing: one probe" || bad "existing: $(probes) probes"

send unknown bob@sender.example.net
expect unknown "550 5.1.7 <bob@sender.example.net>: Sender address rejected: undeliverable address: host smtp.sender.example.net[127.0.0.1] said: 550 5.1.1 <bob@sender.example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"
[[ $(probes_now) -eq 2 ]] && ok "unknown: one more probe" || bad "unknown: $(probes) probes"

send unknown-again bob@sender.example.net
got=$(rcpt_reply unknown-again)
if [[ "$got" == "550 5.1.7 <bob@sender.example.net>: Sender address rejected: undeliverable address: host smtp.sender.example.net[127.0.0.1] said: 550 5.1.1 <bob@sender.example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command); cached result of a probe at "*" UTC" ]]; then
  ok "unknown-again: answered from the cache, quoting the remote: '$got'"
else bad "unknown-again: got '$got'"; fi
[[ $(probes_now) -eq 2 ]] && ok "unknown-again: no new probe" || bad "unknown-again: $(probes) probes"
tb_wait_log "$MXGUARD_LOG" "callout:cached_reject/delayed" 5 >/dev/null && ok "log says cached_reject" || bad "log: no cached_reject"

send acceptall someone@acceptall.example.net
expect acceptall "250 2.1.5 Ok"
tb_wait_log "$MXGUARD_LOG" "callout:accept_all" 5 >/dev/null && ok "acceptall: recorded as accept_all (unverifiable)" || bad "acceptall: log"

send nullmx x@nullmx.example.net
expect nullmx "550 5.7.27 <x@nullmx.example.net>: Sender address rejected: Domain nullmx.example.net does not accept mail (null MX, RFC 7505)"

send deadmx x@deadmx.example.net
expect deadmx "450 4.1.7 <x@deadmx.example.net>: Sender address rejected: unverified address: host dead.example.net[127.0.0.3]: Connection refused (at connect)"

# A fleet: another mxguard process on the same Redis answers from the first one's results.
before=$(probes_now)
out=$("$CHECK" --config "$TB_DIR/mxguard.conf" --policy "$TB_DIR/policy.conf" --dns "127.0.0.1@$NSD_PORT" \
      --hostname mx.example.net --client-ip 192.0.2.10 --helo mail.client.example.net \
      --from alice@sender.example.net --rcpt "user@$TB_MAIL_DOMAIN")
rc=$?
if [[ $rc -eq 0 && "$out" == *"mail callout: cached_accept ((cached) host smtp.sender.example.net[127.0.0.1] said: 250 2.1.5 Ok)"* && $(probes_now) -eq $before ]]; then
  ok "fleet: a second process answered from the first one's Redis record, no probe"
else bad "fleet: rc=$rc probes $before -> $(probes): $out"; fi

# A second daemon (a new process, empty memory) on the same Redis takes over the milter port:
# it answers the known sender from the first daemon's record, without a probe.
stop_mxguard || bad "first mxguard did not exit cleanly"
before=$(probes_now)
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" --config "$TB_DIR/mxguard.conf" || exit 1
send second-daemon bob@sender.example.net
got=$(rcpt_reply second-daemon)
if [[ "$got" == "550 5.1.7 <bob@sender.example.net>: Sender address rejected: undeliverable address: "*"; cached result of a probe at "*" UTC" && $(probes_now) -eq $before ]]; then
  ok "second daemon: answered from the first daemon's Redis record, no probe"
else bad "second daemon: probes $before -> $(probes_now), reply '$got'"; fi

# Redis down: on_failure = tempfail within the timeout, one log line; back: caching resumes.
stop_redis
start=$(date +%s%N)
send redis-down carol@sender.example.net
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect redis-down "450 4.1.7 <carol@sender.example.net>: Sender address rejected: unverified address: the verification cache is unavailable"
((ms < 5000)) && ok "redis-down: answered in $ms ms" || bad "redis-down: took $ms ms"
send redis-down-2 dave@sender.example.net
n=$(grep -c "store: redis 127.0.0.1:$REDIS_PORT unavailable" "$MXGUARD_LOG")
[[ $n -eq 1 ]] && ok "redis-down: logged once for the outage" || bad "redis-down: logged $n times"
start_redis || exit 1
sleep 1.2
send redis-back alice@sender.example.net
expect redis-back "250 2.1.5 Ok"
tb_wait_log "$MXGUARD_LOG" "store: redis 127.0.0.1:$REDIS_PORT is back" 5 >/dev/null && ok "redis-back: recovery logged" || bad "redis-back: no recovery log"
before=$(probes_now)
send redis-back-2 alice@sender.example.net
[[ $(probes_now) -eq $before ]] && ok "redis-back: caching resumed (no new probe)" || bad "redis-back: probed again"

stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
