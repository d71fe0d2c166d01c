#!/usr/bin/env bash
# startup_checks_test.sh - a start fails loudly and early: --check-config refuses what a start
# would trip over (a bad socket, an unknown user or group, a directory where a file goes, a typo
# in a stage's section even when the stage is not listed), naming FILE:LINE: OPTION (exit 78) or
# the command-line option (exit 64); a stray argument is exit 64 for both programs; the shipped
# policies load without a warning; --version prints project(VERSION); in daemon mode a socket or
# pid file that fails is reported on stderr, with a non-zero exit, before detaching, and a good
# start detaches and serves; without --config the default mxguard.conf is optional (one notice).
# Must not: use the network beyond loopback (DNS goes to an unused loopback port).
set -uo pipefail
MXGUARD=$1
CHECK=$2
work=$(mktemp -d)
chmod 0755 "$work"  # nobody reads the policy in the unreadable-map case
here=$(cd "$(dirname "$0")/../.." && pwd)
daemon_pid=""
cleanup() {
  [[ -n "$daemon_pid" ]] && kill -9 "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=tests/testbed/testbed.sh
source "$here/tests/testbed/testbed.sh"  # ok, bad, tb_summary, free_port

nl=$'\n'
usage_hint="${nl}Try 'mxguard --help'."
# expect_run NAME RC OUTPUT CMD...: CMD's exit status and its whole stdout+stderr, exactly.
expect_run() {
  local name=$1 want_rc=$2 want=$3 out rc
  shift 3
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -eq $want_rc && "$out" == "$want" ]]; then ok "$name: exit $rc, '${want%%"$nl"*}'"
  else bad "$name: expected exit $want_rc and '$want', got exit $rc and '$out'"; fi
}
# conf NAME TEXT: a 0644 file in the work dir (a file others may write is refused); prints its path.
conf() {
  printf '%b' "$2" > "$work/$1"
  chmod 0644 "$work/$1"
  echo "$work/$1"
}
policy=$(conf p.conf '[engine]\nstages = helo\n')
checkconf=("$MXGUARD" --check-config --policy "$policy" --dns 127.0.0.1@9)

# ---- 1. The socket: what libmilter and mxguard both take, or exit 78 at its FILE:LINE ----------
forms="(use unix:/PATH, inet:PORT@HOST or inet6:PORT@HOST, e.g. unix:/run/mxguard/mxguard.sock)"
inet="(use inet:PORT@HOST, e.g. inet:8891@127.0.0.1)"
declare -A socket_problem=(
  [tcp:10025]="unknown type 'tcp' $forms"
  [inet:abc@host]="the port 'abc' is not a number from 1 to 65535 $inet"
  [unix:relative/m.sock]="the path 'relative/m.sock' is not absolute (use unix:/PATH, e.g. unix:/run/mxguard/mxguard.sock)"
  [inet:70000@127.0.0.1]="the port '70000' is not a number from 1 to 65535 $inet"
  [inet:10025]="no host; libmilter would listen on every address $inet"
)
for spec in "${!socket_problem[@]}"; do
  c=$(conf socket.conf "# the milter socket\nsocket = $spec\n")
  expect_run "socket = $spec" 78 "mxguard: $c:2: socket: invalid socket '$spec': ${socket_problem[$spec]}" \
    "${checkconf[@]}" --config "$c"
done
expect_run "--socket tcp:10025" 64 "mxguard: --socket: invalid socket 'tcp:10025': unknown type 'tcp' $forms$usage_hint" \
  "${checkconf[@]}" --config '' --socket tcp:10025
for spec in local:/run/mxguard/mxguard.sock "inet:8891@localhost" "inet6:8891@[::1]"; do
  out=$("${checkconf[@]}" --config '' --socket "$spec" 2>&1); rc=$?
  [[ $rc -eq 0 && "$out" == *"; socket $spec;"* ]] && ok "--socket $spec: accepted" || bad "--socket $spec: rc=$rc: $out"
done

# ---- 2. Users and groups that do not exist -------------------------------------------------------
nosuch=mxguard-test-no-such-user
c=$(conf user.conf "user = $nosuch\n")
expect_run "user = $nosuch" 78 "mxguard: $c:1: user: no such user '$nosuch'" "${checkconf[@]}" --config "$c"
c=$(conf owner.conf "allow_root = yes\nsocket_owner = $nosuch\n")
expect_run "socket_owner = $nosuch" 78 "mxguard: $c:2: socket_owner: no such user '$nosuch'" "${checkconf[@]}" --config "$c"
c=$(conf group.conf "socket_group = $nosuch\n")
expect_run "socket_group = $nosuch" 78 "mxguard: $c:1: socket_group: no such group '$nosuch'" "${checkconf[@]}" --config "$c"
expect_run "--user $nosuch" 64 "mxguard: --user: no such user '$nosuch'$usage_hint" "${checkconf[@]}" --config '' --user "$nosuch"
# The shipped mxguard.conf runs as user mxguard: without that user it cannot start, and says so.
if id mxguard >/dev/null 2>&1; then
  out=$("${checkconf[@]}" --config "$here/config/mxguard.conf" 2>&1); rc=$?
  [[ $rc -eq 0 ]] && ok "shipped mxguard.conf, user mxguard exists: exit 0" || bad "shipped mxguard.conf: rc=$rc: $out"
else
  line=$(grep -n '^user = mxguard$' "$here/config/mxguard.conf" | cut -d: -f1)
  expect_run "shipped mxguard.conf without a user mxguard" 78 \
    "mxguard: $here/config/mxguard.conf:$line: user: no such user 'mxguard'" "${checkconf[@]}" --config "$here/config/mxguard.conf"
fi

# ---- 3. Files the configuration names: a directory, not a file, unreadable -----------------------
mkdir "$work/maps"
expect_run "--policy DIRECTORY" 78 "mxguard: $work/maps: not a regular file (a directory); give the path of a configuration file" \
  "$MXGUARD" --check-config --config '' --policy "$work/maps" --dns 127.0.0.1@9
p=$(conf map-dir.conf "[engine]\nstages = helo\n[access]\nclients = cidr:$work/maps\n")
expect_run "access map that is a directory" 78 "mxguard: $work/maps: not a regular file (a directory); give the path of a map file" \
  "$MXGUARD" --check-config --config '' --policy "$p" --dns 127.0.0.1@9
c=$(conf pid.conf "pidfile = $work/maps\n")
expect_run "pidfile = DIRECTORY" 78 "mxguard: $c:1: pidfile: '$work/maps' is a directory, not a file (e.g. /run/mxguard/mxguard.pid)" \
  "${checkconf[@]}" --config "$c"
c=$(conf record.conf "[record]\nfile = $work/maps\n")
expect_run "[record] file = DIRECTORY" 78 "mxguard: $c:2: record.file: '$work/maps' is a directory, not a file (e.g. /var/lib/mxguard/transactions.jsonl)" \
  "${checkconf[@]}" --config "$c"
expect_run "--config MISSING" 78 "mxguard: $work/missing.conf: cannot open: No such file or directory" \
  "${checkconf[@]}" --config "$work/missing.conf"
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  # As the service user would run --check-config (systemd's ExecStartPre, User=mxguard).
  printf '192.0.2.0/24 allow\n' > "$work/private.cidr" && chmod 0600 "$work/private.cidr"
  p=$(conf map-private.conf "[engine]\nstages = helo\n[access]\nclients = cidr:$work/private.cidr\n")
  expect_run "access map the user cannot read" 78 "mxguard: $work/private.cidr: cannot open: Permission denied" \
    setpriv --reuid nobody --regid nogroup --clear-groups "$MXGUARD" --check-config --config '' --policy "$p" --dns 127.0.0.1@9
else echo "skip: unreadable map needs root, a 'nobody' user and setpriv"; fi

# ---- 4. Stray arguments (a value without its option is not silently dropped) ---------------------
expect_run "mxguard stray argument" 64 \
  "mxguard: unexpected argument 'other.conf' (mxguard takes options only; a value follows its option, as in --policy FILE)$usage_hint" \
  "${checkconf[@]}" --config '' other.conf
out=$("$CHECK" --policy "$policy" --dns 127.0.0.1@9 --client-ip 192.0.2.1 --rcpt a@example.org b@example.org 2>&1); rc=$?
want="mxguard-check: unexpected argument 'b@example.org' (a value follows its option, as in --rcpt ADDR --rcpt ADDR)"
if [[ $rc -eq 64 && "${out%%"$nl"*}" == "$want" && "$out" == *"${nl}usage: mxguard-check "* ]]; then
  ok "mxguard-check stray argument: exit 64, '$want' and the usage"
else bad "mxguard-check stray argument: rc=$rc: $out"; fi

# ---- 5. A stage's section is checked whether or not the stage is listed --------------------------
p=$(conf unlisted.conf '[engine]\nstages = helo\n[rdns]\ncolour = blue\n')
want="$p:4: rdns.colour: unknown option 'colour' in [rdns]; known options: mode, on_failure, timeout, no_ptr, reply_no_ptr, not_confirmed, reply_not_confirmed, dynamic, reply_dynamic, dynamic_patterns, tempfail_reply"
expect_run "typo in an unlisted stage's section" 78 "mxguard: $want" "$MXGUARD" --check-config --config '' --policy "$p" --dns 127.0.0.1@9
expect_run "typo in an unlisted stage's section (mxguard-check)" 78 "mxguard-check: $want" \
  "$CHECK" --policy "$p" --dns 127.0.0.1@9 --client-ip 192.0.2.1

# ---- 6. The shipped policies and mxguard.conf load without a warning ------------------------------
stand_in=()
id mxguard >/dev/null 2>&1 || stand_in=(--user nobody)
for p in default strict; do
  "$MXGUARD" --check-config --config '' --policy "$here/policies/$p.conf" --dns 127.0.0.1@9 > /dev/null 2> "$work/$p.err"; rc=$?
  [[ $rc -eq 0 && ! -s "$work/$p.err" ]] && ok "policies/$p.conf: --check-config exit 0, nothing on stderr" \
    || bad "policies/$p.conf: rc=$rc, stderr: $(cat "$work/$p.err")"
  "$CHECK" --policy "$here/policies/$p.conf" --dns 127.0.0.1@9 --client-ip 192.0.2.1 > /dev/null 2> "$work/$p-check.err"
  [[ ! -s "$work/$p-check.err" ]] && ok "policies/$p.conf: mxguard-check prints nothing on stderr" \
    || bad "policies/$p.conf (mxguard-check) stderr: $(cat "$work/$p-check.err")"
done
"$MXGUARD" --check-config --config "$here/config/mxguard.conf" --policy "$here/policies/default.conf" "${stand_in[@]}" \
  > /dev/null 2> "$work/shipped.err"; rc=$?
[[ $rc -eq 0 && ! -s "$work/shipped.err" ]] && ok "config/mxguard.conf with policies/default.conf: exit 0, nothing on stderr" \
  || bad "config/mxguard.conf: rc=$rc, stderr: $(cat "$work/shipped.err")"

# ---- 7. --version: project(VERSION) of CMakeLists.txt ---------------------------------------------
version=$(sed -n 's/^project(mxguard VERSION \([0-9][0-9.]*\) .*/\1/p' "$here/CMakeLists.txt")
[[ -n "$version" ]] || bad "no project(mxguard VERSION x.y.z ...) in CMakeLists.txt"
expect_run "mxguard --version" 0 "mxguard $version" "$MXGUARD" --version
expect_run "mxguard-check --version" 0 "mxguard-check $version" "$CHECK" --version

# ---- 8. Daemon mode: failures reach the terminal before detaching ---------------------------------
# daemon NAME ARGS...: starts mxguard without --foreground; it must return within 20 s (a daemon
# that detached returns at once); sets rc and out (stdout+stderr).
daemon() {
  local name=$1
  shift
  out=$(timeout 20 "$MXGUARD" --allow-root --policy "$policy" --dns 127.0.0.1@9 "$@" 2>&1)
  rc=$?
}
daemon missing-dir --config '' --socket "unix:$work/no-such-dir/m.sock"
want="mxguard: cannot listen on unix:$work/no-such-dir/m.sock: its directory $work/no-such-dir does not exist (systemd's RuntimeDirectory=mxguard makes /run/mxguard; otherwise: install -d -o mxguard -g mxguard -m 0750 $work/no-such-dir)"
[[ $rc -eq 71 && "$out" == "$want" ]] && ok "daemon mode, socket directory missing: exit 71, '$want'" \
  || bad "daemon mode, socket directory missing: rc=$rc: $out"
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  mkdir -m 0555 "$work/readonly"
  out=$(timeout 20 setpriv --reuid nobody --regid nogroup --clear-groups "$MXGUARD" --config '' --policy "$policy" \
        --dns 127.0.0.1@9 --socket "unix:$work/readonly/m.sock" 2>&1); rc=$?
  want="mxguard: cannot listen on unix:$work/readonly/m.sock: its directory $work/readonly is not writable by uid $(id -u nobody) (Permission denied)"
  [[ $rc -eq 71 && "$out" == "$want" ]] && ok "daemon mode, socket directory not writable: exit 71, '$want'" \
    || bad "daemon mode, unwritable socket directory: rc=$rc: $out"
else echo "skip: unwritable socket directory needs root, a 'nobody' user and setpriv"; fi
port=$(free_port)
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
holder=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
daemon port-in-use --config '' --socket "inet:$port@127.0.0.1"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
want="mxguard: cannot listen on inet:$port@127.0.0.1 (in use, or a bad address?)"
[[ $rc -eq 71 && "$out" == "$want" ]] && ok "daemon mode, port in use: exit 71, '$want'" || bad "daemon mode, port in use: rc=$rc: $out"
port=$(free_port)
daemon pid-dir --config '' --socket "inet:$port@127.0.0.1" --pidfile "$work/no-such-dir/mxguard.pid"
want="mxguard: cannot create the pid file $work/no-such-dir/mxguard.pid: No such file or directory"
[[ $rc -eq 73 && "$out" == "$want" ]] && ok "daemon mode, pid file cannot be created: exit 73, '$want'" \
  || bad "daemon mode, pid file: rc=$rc: $out"

# A good start: exit 0 at once, nothing said (but the notice when the default mxguard.conf is
# absent), a detached process in its own session that answers the milter handshake.
default_conf=$("$MXGUARD" --help | tr -s ' \n' ' ' | sed -n 's/.*(default \(\/[^,]*mxguard\.conf\), if it exists).*/\1/p')
[[ -n "$default_conf" ]] && ok "--help names the default mxguard.conf: $default_conf" || bad "--help: no default mxguard.conf"
config_args=(--config '')
want_out=""
if [[ -n "$default_conf" && ! -e "$default_conf" ]]; then
  config_args=()
  want_out="mxguard: notice: $default_conf does not exist: running on built-in defaults (--config FILE names a configuration file)"
  out=$("${checkconf[@]}" 2>&1); rc=$?
  [[ $rc -eq 0 && "$out" == *"; config none ($default_conf does not exist: built-in defaults)" ]] \
    && ok "--check-config without --config: '... config none ($default_conf does not exist: built-in defaults)'" \
    || bad "--check-config without --config: rc=$rc: $out"
else echo "skip: $default_conf exists on this machine; the daemon-mode start uses --config ''"; fi
mkdir "$work/run"
port=$(free_port)
daemon good "${config_args[@]}" --socket "inet:$port@127.0.0.1" --pidfile "$work/run/mxguard.pid"
daemon_pid=$(cat "$work/run/mxguard.pid" 2>/dev/null)
[[ $rc -eq 0 && "$out" == "$want_out" ]] && ok "daemon mode, good start: exit 0, output '$want_out'" \
  || bad "daemon mode, good start: rc=$rc: $out"
if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
  # Double fork: the daemon is in the session its first child made, and is no child of ours.
  sid=$(ps -o sid= -p "$daemon_pid" | tr -d ' ') ppid=$(ps -o ppid= -p "$daemon_pid" | tr -d ' ')
  [[ "$sid" != "$(ps -o sid= -p $$ | tr -d ' ')" && "$ppid" != $$ ]] \
    && ok "the daemon ($daemon_pid) detached: session $sid, parent $ppid" || bad "daemon $daemon_pid: sid $sid, parent $ppid"
  reply=$(python3 - "$port" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
body = b"O" + struct.pack("!III", 6, 0x1FF, 0x1FFFFF)  # SMFIC_OPTNEG, as Postfix sends it
s.sendall(struct.pack("!I", len(body)) + body)
size = struct.unpack("!I", s.recv(4, socket.MSG_WAITALL))[0]
print(s.recv(size, socket.MSG_WAITALL)[:1].decode())
PY
)
  expect_eq "the detached daemon answers the milter handshake (SMFIC_OPTNEG)" "O" "$reply"
  kill -TERM "$daemon_pid"
  for _ in $(seq 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
  if ! kill -0 "$daemon_pid" 2>/dev/null; then daemon_pid=""; ok "SIGTERM stops the detached daemon"
  else bad "the detached daemon ignored SIGTERM"; fi
  [[ ! -e "$work/run/mxguard.pid" ]] && ok "its pid file is removed at exit" || bad "pid file left behind"
else bad "daemon mode, good start: no daemon running (pid file: '$daemon_pid')"; fi

tb_summary
