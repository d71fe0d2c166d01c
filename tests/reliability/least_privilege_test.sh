#!/usr/bin/env bash
# least_privilege_test.sh - the daemon refuses to serve as root unless told; --user drops to that
# user after binding; a unix socket gets the configured owner, group and mode and a real Postfix
# (another user) connects through the group; bad values are refused by --check-config; the
# callout probe never connects to a loopback MX unless allowed, and its rate to one domain is
# capped (through Postfix, counting the connections the "remote" server saw).
# Must not: run anything as root that the test did not start; probe anything but loopback.
set -uo pipefail
MXGUARD=$1
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init
tb_require python3 postfix swaks
[[ $(id -u) -eq 0 ]] || tb_skip "privilege tests need root"
id nobody >/dev/null 2>&1 || tb_skip "no 'nobody' user"
getent group postfix >/dev/null || tb_skip "no 'postfix' group"

printf '[engine]\nstages = helo\n' > "$TB_DIR/helo.conf"
start_nsd || exit 1

# 1. Root without --user and without --allow-root: refused, exit 78, nothing left listening.
port=$(free_port)
out=$(timeout 20 "$MXGUARD" --foreground --config '' --policy "$TB_DIR/helo.conf" --dns 127.0.0.1@9 \
  --socket "inet:$port@127.0.0.1" 2>&1)
rc=$?
want="refusing to serve as root: set 'user = mxguard' in mxguard.conf (or --user NAME) to drop privileges after binding, or 'allow_root = yes' (--allow-root) to run as root anyway"
if [[ $rc -eq 78 && "$out" == *"error: $want"* && "$out" != *"listening on"* ]]; then
  ok "root without --user: exit 78, '$want'"
else bad "root without --user: rc=$rc: $out"; fi
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then bad "port $port still accepts"
else ok "refused daemon left nothing listening"; fi

# 2. allow_root = yes in mxguard.conf: serves as root.
printf 'allow_root = yes\n' > "$TB_DIR/root.conf"
MILTER_PORT=$(free_port)
TB_MXGUARD_ALLOW_ROOT="" start_mxguard "$MXGUARD" "$TB_DIR/helo.conf" --config "$TB_DIR/root.conf" \
  && [[ $(awk '/^Uid:/ {print $3}' "/proc/$MXGUARD_PID/status") == 0 ]] \
  && ok "allow_root = yes: serves as root" || bad "allow_root = yes: $(tail -3 "$MXGUARD_LOG")"
stop_mxguard || bad "allow_root daemon did not stop cleanly"

# 3. Bad socket settings are configuration errors naming file, line and option.
check_conf() {  # NAME CONTENT EXPECTED
  printf '%s\n' "$2" > "$TB_DIR/$1.conf"
  out=$("$MXGUARD" --check-config --config "$TB_DIR/$1.conf" --policy "$TB_DIR/helo.conf" 2>&1)
  rc=$?
  if [[ $rc -eq 78 && "$out" == *"$3"* ]]; then ok "$1: exit 78, '$3'"
  else bad "$1: rc=$rc: $out"; fi
}
check_conf closed_mode "socket_mode = 0600" \
  "$TB_DIR/closed_mode.conf:1: socket_mode: mode 0600 lets neither the group nor others connect (the MTA needs read and write, e.g. 0660)"
check_conf bad_mode "socket_mode = rw" "$TB_DIR/bad_mode.conf:1: socket_mode: invalid mode 'rw' (octal, e.g. 0660)"
check_conf bad_group "socket_group = no-such-group" \
  "$TB_DIR/bad_group.conf:1: socket_group: no such group 'no-such-group'"
check_conf bad_owner "socket_owner = no-such-user" \
  "$TB_DIR/bad_owner.conf:1: socket_owner: no such user 'no-such-user'"

# 4. --user nobody on a unix socket given to group postfix, mode 0660: the daemon runs as
# nobody, the socket is nobody:postfix 660, and Postfix (user postfix) delivers through it.
chmod 711 "$TB_DIR"
mkdir -m 711 "$TB_DIR/run"
printf 'socket_group = postfix\nsocket_mode = 0660\n' > "$TB_DIR/unix.conf"
MXGUARD_SOCKET="unix:$TB_DIR/run/mxguard.sock"
TB_MXGUARD_ALLOW_ROOT="" start_mxguard "$MXGUARD" "$TB_DIR/helo.conf" --config "$TB_DIR/unix.conf" \
  --user nobody || bad "unix socket daemon did not start"
uid=$(awk '/^Uid:/ {print $2 "/" $3}' "/proc/$MXGUARD_PID/status")
nobody=$(id -u nobody)
[[ "$uid" == "$nobody/$nobody" ]] && ok "--user nobody: real and effective uid $uid" \
  || bad "--user nobody: uid $uid"
perm=$(stat -c '%U:%G %a' "$TB_DIR/run/mxguard.sock")
[[ "$perm" == "nobody:postfix 660" ]] && ok "socket is '$perm'" || bad "socket is '$perm'"
start_postfix "smtpd_milters = unix:$TB_DIR/run/mxguard.sock" || exit 1
tb_swaks --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
  --ehlo mail.client.example.net --from a@client.example.net --to "user@$TB_MAIL_DOMAIN" \
  --header "Subject: through-the-group" > "$TB_DIR/unix.swaks"
if grep -q "^<-  250 2.0.0 Ok: queued" "$TB_DIR/unix.swaks" &&
  tb_wait_delivery user through-the-group >/dev/null; then
  ok "Postfix (user postfix) connects through the group and the message is delivered"
else bad "delivery through the unix socket: $(tail -5 "$TB_DIR/unix.swaks"; tail -3 "$POSTFIX_LOG")"; fi
tb_swaks --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
  --ehlo bad_name.example.net --from a@client.example.net --to "user@$TB_MAIL_DOMAIN" > "$TB_DIR/helo.swaks"
want="501 5.5.2 <bad_name.example.net>: Helo command rejected: Invalid name (character '_' is not allowed in a host name)"
grep -qF "<** $want" "$TB_DIR/helo.swaks" && ok "the milter answers through it: '$want'" \
  || bad "helo reject through the unix socket: $(grep '^<' "$TB_DIR/helo.swaks" | tail -3)"
stop_postfix
stop_mxguard || bad "unix socket daemon did not stop cleanly"
unset MXGUARD_SOCKET

# 5. Callout: the MX of sender.example.net is 127.0.0.1 (tests/testbed/zones). Refused unless
# allow_private; with it, at most max_probes_per_domain_per_minute probes a minute to the domain.
PROBE_PORT=$(free_port)
python3 "$here/testbed/scripted_smtp.py" --port "$PROBE_PORT" --mode accept-all \
  --log "$TB_DIR/probes.log" > /dev/null 2>&1 &
probe_pid=$!
stop_probe_server() { kill "$probe_pid" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_probe_server)
wait_port 127.0.0.1 "$PROBE_PORT" 10 || bad "probe server did not start"
sleep 0.2
: > "$TB_DIR/probes.log"  # forget wait_port's own connection
callout_policy() {  # ALLOW_PRIVATE PER_MINUTE
  cat <<EOF
[engine]
stages = callout
whitelist_clients =
[callout]
on_failure = tempfail
port = $PROBE_PORT
allow_private = $1
max_probes_per_domain_per_minute = $2
accept_all_probe = no
connect_timeout = 1s
command_timeout = 2s
probe_timeout = 5s
EOF
}
rcpt_reply() {  # the reply to RCPT TO in a swaks transcript
  awk '/^ -> RCPT TO:/ {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' "$1"
}
send() {  # NAME SENDER
  tb_swaks --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
    --ehlo mail.client.example.net --from "$2" --to "user@$TB_MAIL_DOMAIN" \
    --header "Subject: $1" > "$TB_DIR/$1.swaks"
}
probes() { wc -l < "$TB_DIR/probes.log" | tr -d ' '; }

callout_policy no 60 > "$TB_DIR/callout.conf"
MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/callout.conf" || exit 1
start_postfix || exit 1
send private alice@sender.example.net
want="450 4.1.7 <alice@sender.example.net>: Sender address rejected: unverified address: mail server smtp.sender.example.net[127.0.0.1] is not a public address"
got=$(rcpt_reply "$TB_DIR/private.swaks")
[[ "$got" == "$want" ]] && ok "loopback MX, allow_private = no: '$want'" || bad "loopback MX: got '$got'"
[[ $(probes) -eq 0 ]] && ok "no connection to the loopback MX" || bad "$(probes) connections to the loopback MX"

callout_policy yes 2 > "$TB_DIR/callout.conf"
kill -HUP "$MXGUARD_PID"
tb_wait_log "$MXGUARD_LOG" "policy reloaded" 10 >/dev/null || bad "reload: $(tail -2 "$MXGUARD_LOG")"
for n in 1 2 3; do send "rate$n" "user$n@sender.example.net"; done
for n in 1 2; do
  got=$(rcpt_reply "$TB_DIR/rate$n.swaks")
  [[ "$got" == "250 2.1.5 Ok" ]] && ok "probe $n of 2 a minute: '$got'" || bad "probe $n: got '$got'"
done
got=$(rcpt_reply "$TB_DIR/rate3.swaks")
# One token comes back every 30 s; the wait left depends on how long the first two took.
want="450 4.1.7 <user3@sender.example.net>: Sender address rejected: unverified address: too many verification probes to sender.example.net and other domains under example.net in the last minute; try again in "
if [[ "$got" == "$want"* && "${got#"$want"}" =~ ^(2[0-9]|30)\ seconds$ ]]; then
  ok "third probe in a minute: '$got'"
else bad "third probe: got '$got'"; fi
[[ $(probes) -eq 2 ]] && ok "the remote saw exactly 2 probe connections" || bad "the remote saw $(probes) connections"

tb_summary
