#!/usr/bin/env bash
# callout_test.sh - sender verification end to end: swaks -> private Postfix -> mxguard (callout
# stage, Redis store) -> the sender domain's MX (a second private Postfix, whose log counts the
# probes) found through nsd. Then a second mxguard process on the same Redis (a fleet) and
# Redis stopped and restarted mid-run.
# Last, hostile senders (issue 28) against a scripted SMTP server that records every line it gets:
# a bare CR in a quoted local part through Postfix, and CR/LF "DATA" sent straight to the milter.
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

# Hostile senders (issue 28): the sender domain's MX is now a scripted server that writes down
# every line it receives. A CR/LF in the sender must never become a second command line.
stop_mxguard || bad "mxguard (Redis run) did not exit cleanly"
SCRIPTED_PORT=$(free_port)
python3 "$here/testbed/scripted_smtp.py" --port "$SCRIPTED_PORT" --users fresh \
  --log "$TB_DIR/scripted.log" --lines "$TB_DIR/scripted.lines" > /dev/null 2>&1 &
scripted_pid=$!
stop_scripted() { kill "$scripted_pid" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_scripted)
wait_port 127.0.0.1 "$SCRIPTED_PORT" 10 || { bad "scripted SMTP server did not start"; exit 1; }
sed "s/^port = .*/port = $SCRIPTED_PORT/" "$TB_DIR/policy.conf" > "$TB_DIR/policy-scripted.conf"
start_mxguard "$MXGUARD" "$TB_DIR/policy-scripted.conf" --config "$TB_DIR/mxguard.conf" || exit 1
connects() { grep -c connect "$TB_DIR/scripted.log" 2>/dev/null || echo 0; }
base=$(connects)

# (a) Through Postfix: a bare CR inside a quoted local part. Postfix may refuse it itself; if it
# passes it on, mxguard must refuse it without a probe.
tb_swaks --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
  --xclient-reverse-name mail.client.example.net --ehlo mail.client.example.net \
  --from "$(printf '"a\rb"@sender.example.net')" --to "user@$TB_MAIL_DOMAIN" \
  --header "Subject: bare-cr" > "$TB_DIR/bare-cr.swaks"
mail_reply=$(awk '/^ -> MAIL FROM:/ {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' "$TB_DIR/bare-cr.swaks")
got=$(rcpt_reply bare-cr)
if [[ "$mail_reply" != 2* ]]; then
  ok "bare-cr: Postfix itself refused the sender: '$mail_reply'"
elif [[ "$got" == "553 5.1.7 <"*">: Sender address rejected: malformed address: character 0x0D is not allowed in an address" ]]; then
  ok "bare-cr: Postfix passed it, mxguard refused it: '$got'"
else bad "bare-cr: MAIL '$mail_reply', RCPT '$got'"; fi

# (b) Straight to the milter (as a client of the milter socket could): MAIL FROM with CR/LF and a
# whole message inside the address. The RCPT gets the exact 553, and nothing is probed.
cat > "$TB_DIR/inject_milter.py" <<'PY'
import socket, struct, sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
def send(cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)
def readn(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("milter closed the connection")
        b += c
    return b
def read():
    body = readn(struct.unpack(">I", readn(4))[0])
    return body[:1], body[1:]
def step(cmd, data):
    send(cmd, data)
    return read()
send(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
assert read()[0] == b"O"
def macros(stage, pairs):
    send(b"D", stage + b"".join(k + b"\0" + v + b"\0" for k, v in pairs))
macros(b"C", [(b"j", b"mx.example.net"), (b"{client_addr}", b"192.0.2.10"),
              (b"{client_name}", b"mail.client.example.net")])
assert step(b"C", b"mail.client.example.net\0" + b"4" + struct.pack(">H", 4321) + b"192.0.2.10\0")[0] == b"c"
assert step(b"H", b"mail.client.example.net\0")[0] == b"c"
sender = b"<a\r\nDATA\r\nSubject: injected\r\n\r\nhello\r\n.\r\nQUIT\r\n@sender.example.net>"
macros(b"M", [(b"{mail_addr}", sender[1:-1])])
cmd, _ = step(b"M", sender + b"\0")
cmd, text = step(b"R", b"<user@example.org>\0") if cmd == b"c" else (cmd, _)
print(cmd.decode(), text.rstrip(b"\0").decode("latin-1"))
send(b"Q")
PY
got=$(python3 "$TB_DIR/inject_milter.py" "$MILTER_PORT" 2>&1)
want="y 553 5.1.7 <a??DATA??Subject: injected????hello??.??QUIT??@sender.example.ne...>: Sender address rejected: malformed address: character 0x0D is not allowed in an address"
[[ "$got" == "$want" ]] && ok "injection via the milter: refused with '${want#y }'" || bad "injection via the milter: got '$got', expected '$want'"
[[ $(connects) -eq $base ]] && ok "injection: the scripted server saw no connection" || bad "injection: $(( $(connects) - base )) connection(s) to the scripted server"

# (c) A clean sender still probes, and every line the server ever received is one command.
send scripted-clean fresh@sender.example.net
expect scripted-clean "250 2.1.5 Ok"
if python3 - "$TB_DIR/scripted.lines" <<'PY'
import ast, re, sys
ok = re.compile(rb"^(EHLO|HELO) [!-~]+$|^MAIL FROM:<[!-~]*>$|^RCPT TO:<[!-~]+>$|^QUIT$")
lines = [ast.literal_eval(l) for l in open(sys.argv[1])]
bad = [l for l in lines if not ok.match(l)]
print("   %d lines, unexpected: %r" % (len(lines), bad[:5]))
sys.exit(1 if bad or not lines else 0)
PY
then ok "scripted server: every line it received was one probe command"
else bad "scripted server: a line that is not a probe command arrived"; fi

stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
