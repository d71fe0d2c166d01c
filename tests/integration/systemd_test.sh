#!/usr/bin/env bash
# systemd_test.sh - packaging and service-manager integration: `cmake --install` into a DESTDIR
# installs exactly the expected files (and keeps an admin's /etc files on a re-install); the
# installed unit passes `systemd-analyze verify` and `security`; the installed man pages render
# without a groff warning and document every option of --help; the sd_notify protocol against a
# fake NOTIFY_SOCKET (READY=1 once the milter port accepts, RELOADING=1/READY=1 around SIGHUP with
# the outcome in STATUS=, the old policy still serving after a refused reload, STOPPING=1 on
# SIGTERM, sent by the main pid; abstract socket; nothing without NOTIFY_SOCKET); the installed
# logrotate file rotates the daemon's open [record] file.
# Must not: start anything under the real systemd, write outside its temp dir (verify runs in a
# private mount namespace with the DESTDIR tree over /usr/local), or use the network beyond
# loopback (the daemon forwards DNS to an unused loopback port).
set -uo pipefail
MXGUARD=${1:?usage: systemd_test.sh MXGUARD MXGUARD-CHECK}
CHECK=${2:?usage: systemd_test.sh MXGUARD MXGUARD-CHECK}
build=$(cd "$(dirname "$MXGUARD")" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
[[ -r "$build/CMakeCache.txt" ]] || { echo "FAIL: $build is not a CMake build directory"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=tests/testbed/testbed.sh
source "$src/tests/testbed/testbed.sh"  # ok, bad, tb_summary, tb_require
tb_require python3 cmake groff

# ---- 1. cmake --install into a DESTDIR ----------------------------------------------------------
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
root="$work/root"
DESTDIR="$root" cmake --install "$build" > "$work/install.log" 2>&1
rc=$?
if [[ $rc -eq 0 ]]; then ok "cmake --install into DESTDIR (prefix $prefix)"
else bad "cmake --install: rc=$rc: $(cat "$work/install.log")"; fi
p=${prefix#/}
# The configuration directory follows the prefix (GNUInstallDirs): /usr/local/etc/mxguard for the
# default prefix, /etc/mxguard for /usr.
etc=$(sed -n 's/^CMAKE_INSTALL_SYSCONFDIR:PATH=//p' "$build/CMakeCache.txt")
case "${etc:-etc}" in
  /*) ;;
  *) if [[ "$prefix" == /usr ]]; then etc=/etc; else etc="$prefix/${etc:-etc}"; fi ;;
esac
e=${etc#/}
expected=$(sort <<EOF
./$e/logrotate.d/mxguard
./$e/mxguard/mxguard.conf
./$e/mxguard/policy.conf
./$p/bin/mxguard-check
./$p/lib/systemd/system/mxguard.service
./$p/sbin/mxguard
./$p/share/doc/mxguard/README.md
./$p/share/doc/mxguard/mxguard.conf
./$p/share/doc/mxguard/policies/default.conf
./$p/share/doc/mxguard/policies/strict.conf
./$p/share/doc/mxguard/postfix-main.cf
./$p/share/doc/mxguard/sendmail.mc
./$p/share/man/man1/mxguard-check.1
./$p/share/man/man5/mxguard-policy.5
./$p/share/man/man5/mxguard.conf.5
./$p/share/man/man8/mxguard.8
EOF
)
got=$(cd "$root" && find . \( -type f -o -type l \) | LC_ALL=C sort)
if [[ "$got" == "$expected" ]]; then ok "installed exactly the $(wc -l <<<"$expected") expected files"
else bad "installed files differ from the expected list: $(diff <(echo "$expected") <(echo "$got"))"; fi
unit="$root/$p/lib/systemd/system/mxguard.service"
[[ -x "$root/$p/sbin/mxguard" && -x "$root/$p/bin/mxguard-check" ]] && ok "binaries are executable" \
  || bad "binaries not executable: $(ls -l "$root/$p/sbin" "$root/$p/bin")"
cmp -s <(sed "s|/etc/mxguard/|$etc/mxguard/|g" "$src/policies/default.conf") "$root$etc/mxguard/policy.conf" \
  && cmp -s <(sed "s|/etc/mxguard/|$etc/mxguard/|g" "$src/config/mxguard.conf") "$root$etc/mxguard/mxguard.conf" \
  && ok "$etc/mxguard/policy.conf is policies/default.conf, mxguard.conf is config/mxguard.conf (paths: $etc)" \
  || bad "$etc/mxguard files are not the shipped ones"
# Every path the unit runs must be what install produced.
execs=$(sed -n 's/^Exec[A-Za-z]*=\([^ ]*\).*/\1/p' "$unit" | sort -u | tr '\n' ' ')
want_execs=$(printf '%s\n' "$prefix/sbin/mxguard" /bin/kill | sort -u | tr '\n' ' ')
if [[ "$execs" == "$want_execs" && -x "$root$prefix/sbin/mxguard" ]]; then
  ok "unit runs $prefix/sbin/mxguard (installed there) and /bin/kill"
else bad "unit Exec paths '$execs', expected '$want_execs'"; fi
grep -qx "ExecStartPre=$prefix/sbin/mxguard --config $etc/mxguard/mxguard.conf --check-config" "$unit" \
  && grep -qx "ExecStart=$prefix/sbin/mxguard --config $etc/mxguard/mxguard.conf --foreground" "$unit" \
  && grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" && grep -qx 'Type=notify' "$unit" \
  && ok "unit: Type=notify, --check-config before start, --foreground, reload by SIGHUP" \
  || bad "unit Exec/Type lines: $(grep -E '^(Exec|Type)' "$unit")"
# --check-config checks that `user = mxguard` exists: on a machine without that user, --user
# nobody stands in for it (the command line wins over the file).
stand_in=()
id mxguard >/dev/null 2>&1 || stand_in=(--user nobody)
out=$("$root$prefix/sbin/mxguard" --check-config --config "$root$etc/mxguard/mxguard.conf" \
      --policy "$root$etc/mxguard/policy.conf" --dns 127.0.0.1@9 "${stand_in[@]}" 2>"$work/check-config.err"); rc=$?
[[ $rc -eq 0 && "$out" == "mxguard: configuration OK: policy $root$etc/mxguard/policy.conf, "* ]] \
  && ok "installed mxguard.conf + policy.conf pass --check-config" \
  || bad "installed config: rc=$rc: $out $(cat "$work/check-config.err")"

# A re-install keeps what the admin changed under /etc, and says so.
echo "# edited by the admin" >> "$root$etc/mxguard/policy.conf"
DESTDIR="$root" cmake --install "$build" > "$work/install2.log" 2>&1
if [[ $(tail -1 "$root$etc/mxguard/policy.conf") == "# edited by the admin" ]] \
   && grep -qF -- "-- Keeping existing: $root$etc/mxguard/policy.conf (shipped: $src/policies/default.conf)" "$work/install2.log"; then
  ok "re-install keeps the admin's $etc/mxguard/policy.conf"
else bad "re-install overwrote policy.conf or did not say so: $(cat "$work/install2.log")"; fi

# ---- 2. systemd-analyze on the installed unit --------------------------------------------------
# verify checks that every Exec binary and Documentation= man page exists, so it must see the
# installed tree where the unit expects it: a private mount namespace puts DESTDIR$prefix over
# $prefix (nothing outside this process sees it).
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skip: systemd-analyze is not installed (Debian package systemd)"
elif [[ $(id -u) -ne 0 ]] || ! unshare -m --propagation private true 2>/dev/null; then
  echo "skip: systemd-analyze verify needs root and unshare -m (a mount namespace)"
else
  out=$(unshare -m --propagation private sh -c \
        'mount --bind "$1" "$2" && exec systemd-analyze verify "$3"' sh \
        "$root$prefix" "$prefix" "$prefix/lib/systemd/system/mxguard.service" 2>&1); rc=$?
  if [[ $rc -eq 0 && -z "$out" ]]; then ok "systemd-analyze verify: no complaint about the installed unit"
  else bad "systemd-analyze verify: rc=$rc: $out"; fi
  # The same check must catch a mistake (else the one above proves nothing).
  mkdir -p "$work/broken" && sed 's/^PrivateTmp=yes/PrivateTmpp=yes/' "$unit" > "$work/broken/mxguard.service"
  out=$(unshare -m --propagation private sh -c \
        'mount --bind "$1" "$2" && exec systemd-analyze verify "$3"' sh \
        "$root$prefix" "$prefix" "$work/broken/mxguard.service" 2>&1)
  [[ "$out" == *"Unknown key 'PrivateTmpp' in section [Service]"* ]] \
    && ok "systemd-analyze verify catches an unknown key" || bad "verify missed a typo: $out"
  out=$(systemd-analyze security --offline=yes "$unit" 2>&1 | tail -1)
  if [[ "$out" =~ "Overall exposure level for mxguard.service: "[0-9.]+" OK" ]]; then
    ok "systemd-analyze security: ${out#→ }"
  else bad "systemd-analyze security: $out"; fi
fi

# ---- 3. man pages ------------------------------------------------------------------------------
mandir="$root$prefix/share/man"
for page in man1/mxguard-check.1 man5/mxguard.conf.5 man5/mxguard-policy.5 man8/mxguard.8; do
  warnings=$(groff -man -Tutf8 -ww -z "$mandir/$page" 2>&1); rc=$?
  if [[ $rc -eq 0 && -z "$warnings" ]]; then ok "groff -man -ww: $page renders without a warning"
  else bad "groff $page: rc=$rc: $warnings"; fi
  if command -v man >/dev/null 2>&1; then
    name=${page#*/}
    text=$(MANWIDTH=100 man -l -P cat "$mandir/$page" 2>&1); rc=$?
    found=$(man -M "$mandir" -w "${name##*.}" "${name%.*}" 2>&1)
    if [[ $rc -eq 0 && "$text" == *"NAME"*"${name%.*} "* && "$found" == "$mandir/$page" ]]; then
      ok "man -l renders $name; man -M finds it in the installed tree"
    else bad "man $name: rc=$rc found='$found': $(head -5 <<<"$text")"; fi
  fi
done
# Every option --help lists is documented in the page.
documented() {
  local bin=$1 page=$2 opt missing=""
  for opt in $("$bin" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")" "$page" || missing+=" $opt"
  done
  echo "$missing"
}
missing=$(documented "$MXGUARD" "$mandir/man8/mxguard.8")
[[ -z "$missing" ]] && ok "mxguard.8 documents every option of mxguard --help" || bad "mxguard.8 lacks:$missing"
missing=$(documented "$CHECK" "$mandir/man1/mxguard-check.1")
[[ -z "$missing" ]] && ok "mxguard-check.1 documents every option of mxguard-check --help" \
  || bad "mxguard-check.1 lacks:$missing"

# ---- 4. sd_notify ------------------------------------------------------------------------------
# The fake service manager: one line per datagram (assignments joined by '|'), with the sender's
# pid (SO_PASSCRED) and the receive time (CLOCK_MONOTONIC, us). On the first READY=1 it connects
# to the milter port at once: READY must mean "accepting connections".
cat > "$work/notify_listener.py" <<'PY'
import socket, struct, sys, time
addr, out_path, milter_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
out = open(out_path + ".tmp", "w", buffering=1)
import os
os.rename(out_path + ".tmp", out_path)  # exists = listening
ready_seen = False
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    pid = -1
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", value[:12])[0]
    text = data.decode("utf-8", "replace")
    out.write("pid=%d recv_usec=%d %s\n" % (pid, now, text.rstrip("\n").replace("\n", "|")))
    if "READY=1" in text.split("\n") and not ready_seen and milter_port:
        ready_seen = True
        c = socket.socket()
        try:
            c.connect(("127.0.0.1", milter_port))
            out.write("milter port: accepting\n")
        except OSError as e:
            out.write("milter port: %s\n" % e)
        c.close()
PY
# A milter client speaking protocol 6 as Postfix does: connect, HELO, MAIL, RCPT; prints the
# RCPT answer ("c" for continue, or the reply text).
cat > "$work/milter_client.py" <<'PY'
import socket, struct, sys
port, helo = int(sys.argv[1]), sys.argv[2].encode()
s = socket.create_connection(("127.0.0.1", port), timeout=20)
def send(cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)
def readn(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise EOFError("milter closed the connection")
        b += c
    return b
def read():
    body = readn(struct.unpack(">I", readn(4))[0])
    return body[:1], body[1:]
def step(cmd, data):
    send(cmd, data)
    return read()
send(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)); assert read()[0] == b"O"
# The connect macros contrib/postfix/main.cf recommends, joined with NULs: a literal like
# b"{client_addr}\0192.0.2.1" is an octal escape (\01), which leaves a name without its value,
# and libmilter's smfi_getsymval then reads past the end of its macro array (that crashed this test).
macros = [b"j", b"mx.example.net", b"{daemon_name}", b"mx", b"{daemon_addr}", b"127.0.0.1",
          b"{client_addr}", b"192.0.2.1", b"{client_name}", b"client.example.net",
          b"{client_ptr}", b"client.example.net", b"v", b"Postfix 3.7.11",
          b"_", b"client.example.net [192.0.2.1]"]
send(b"D", b"C" + b"\0".join(macros) + b"\0")
assert step(b"C", b"client.example.net\0" + b"4" + struct.pack(">H", 4321) + b"192.0.2.1\0")[0] == b"c"
assert step(b"H", helo + b"\0")[0] == b"c"
assert step(b"M", b"<sender@example.org>\0")[0] == b"c"
cmd, data = step(b"R", b"<user@example.org>\0")
print("c" if cmd == b"c" else (cmd + b" " + data.rstrip(b"\0")).decode())
send(b"Q")
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_listener ADDR OUT PORT: the fake manager, waits until it is bound.
start_listener() {
  python3 "$work/notify_listener.py" "$1" "$2" "$3" &
  pids+=($!)
  for _ in $(seq 50); do [[ -e "$2" ]] && return 0; sleep 0.1; done
  return 1
}
# wait_lines FILE N: until FILE has N datagram lines (at most 10 s).
wait_lines() {
  for _ in $(seq 100); do (($(grep -c '^pid=' "$1" 2>/dev/null) >= $2)) && return 0; sleep 0.1; done
  return 1
}
# datagram FILE N: the Nth datagram's assignments; sender FILE N: its pid; recv FILE N: its time.
datagram() { grep '^pid=' "$1" | sed -n "${2}p" | cut -d' ' -f3-; }
sender() { grep '^pid=' "$1" | sed -n "${2}p" | sed 's/^pid=\([0-9-]*\).*/\1/'; }
recv_usec() { grep '^pid=' "$1" | sed -n "${2}p" | sed 's/.*recv_usec=\([0-9]*\).*/\1/'; }
# wait_exit PID: waits up to 15 s; sets rc to the exit code, or "running". (Not in $(...): a
# subshell cannot wait for this shell's children.)
wait_exit() {
  rc=running
  for _ in $(seq 150); do kill -0 "$1" 2>/dev/null || { wait "$1"; rc=$?; return; }; sleep 0.1; done
}

port=$(free_port)
policy="$work/live.conf"
printf '[engine]\nstages = helo\n' > "$policy"
notes="$work/notify.out"
start_listener "$work/notify.sock" "$notes" "$port" || bad "notify listener did not start"
NOTIFY_SOCKET="$work/notify.sock" "$MXGUARD" --foreground --allow-root --config '' --policy "$policy" --dns 127.0.0.1@9 \
  --socket "inet:$port@127.0.0.1" --hostname mx.example.net 2> "$work/daemon.log" &
daemon=$!
pids+=($daemon)
if wait_lines "$notes" 1; then
  got=$(datagram "$notes" 1)
  want="READY=1|STATUS=listening on inet:$port@127.0.0.1, policy $policy (1 stages)"
  [[ "$got" == "$want" ]] && ok "start: '$want'" || bad "start datagram: '$got', expected '$want'"
  for _ in $(seq 20); do grep -q '^milter port' "$notes" && break; sleep 0.1; done
  grep -qx 'milter port: accepting' "$notes" && ok "at READY=1 the milter port already accepts connections" \
    || bad "at READY=1: $(grep '^milter port' "$notes")"
  [[ $(sender "$notes" 1) == "$daemon" ]] && ok "READY=1 comes from the main pid ($daemon)" \
    || bad "READY=1 sent by pid $(sender "$notes" 1), main pid is $daemon"
else bad "no READY=1 within 10 s: $(cat "$work/daemon.log")"; fi
reply_bad_helo="y 501 5.5.2 <bad_name.example>: Helo command rejected: Invalid name (character '_' is not allowed in a host name)"
out=$(python3 "$work/milter_client.py" "$port" bad_name.example 2>&1)
[[ "$out" == "$reply_bad_helo" ]] && ok "policy 1 (helo) rejects HELO bad_name.example at RCPT" \
  || bad "policy 1: got '$out'"

# SIGHUP with a broken policy: RELOADING=1, then READY=1 with the refusal; the old one serves.
printf '[engine]\nstages = helo\n[helo]\nnon_fqdn = sometimes\n' > "$policy"
kill -HUP "$daemon"
if wait_lines "$notes" 3; then
  got=$(datagram "$notes" 2)
  if [[ "$got" =~ ^RELOADING=1\|MONOTONIC_USEC=([0-9]+)\|STATUS=(.*)$ \
        && "${BASH_REMATCH[2]}" == "reloading the policy from $policy" ]]; then
    sent=${BASH_REMATCH[1]}
    delta=$(( $(recv_usec "$notes" 2) - sent ))
    ((delta >= 0 && delta < 5000000)) && ok "SIGHUP: 'RELOADING=1|MONOTONIC_USEC=…|STATUS=reloading the policy from …', MONOTONIC_USEC ${delta} us before receipt" \
      || bad "MONOTONIC_USEC $sent is not CLOCK_MONOTONIC now (delta $delta us)"
  else bad "SIGHUP datagram 2: '$got'"; fi
  got=$(datagram "$notes" 3)
  want="READY=1|STATUS=policy reload refused, keeping the running policy: $policy:4: helo.non_fqdn: invalid value 'sometimes' (use reject, warn or off)"
  [[ "$got" == "$want" ]] && ok "broken policy: '$want'" || bad "broken policy datagram: '$got', expected '$want'"
else bad "no RELOADING=1/READY=1 after SIGHUP: $(cat "$notes")"; fi
out=$(python3 "$work/milter_client.py" "$port" bad_name.example 2>&1)
[[ "$out" == "$reply_bad_helo" ]] && ok "after the refused reload the old policy still rejects bad_name.example" \
  || bad "after refused reload: got '$out'"

# SIGHUP with a good policy: RELOADING=1, READY=1 with the new stage count; the new one serves.
printf '[engine]\nstages = behaviour\n' > "$policy"
kill -HUP "$daemon"
if wait_lines "$notes" 5; then
  [[ $(datagram "$notes" 4) == "RELOADING=1|MONOTONIC_USEC="*"|STATUS=reloading the policy from $policy" ]] \
    && ok "second SIGHUP: RELOADING=1 first" || bad "second SIGHUP datagram 4: '$(datagram "$notes" 4)'"
  want="READY=1|STATUS=policy reloaded from $policy (1 stages)"
  [[ $(datagram "$notes" 5) == "$want" ]] && ok "good policy: '$want'" \
    || bad "good policy datagram: '$(datagram "$notes" 5)', expected '$want'"
else bad "no datagrams after the second SIGHUP: $(cat "$notes")"; fi
out=$(python3 "$work/milter_client.py" "$port" bad_name.example 2>&1)
[[ "$out" == "c" ]] && ok "the reloaded policy (behaviour only) lets bad_name.example through" \
  || bad "after good reload: got '$out'"

# SIGTERM: STOPPING=1, exit 0, nothing after it.
kill -TERM "$daemon"
wait_exit "$daemon"
sleep 0.2
want="STOPPING=1|STATUS=stopping on signal 15"
if [[ $(datagram "$notes" 6) == "$want" && $(grep -c '^pid=' "$notes") -eq 6 && "$rc" == 0 ]]; then
  ok "SIGTERM: '$want' from pid $(sender "$notes" 6), the 6th and last datagram; exit 0"
else bad "SIGTERM: rc=$rc, datagrams: $(cat "$notes")"; fi
for i in 1 2 3 4 5 6; do [[ $(sender "$notes" $i) == "$daemon" ]] || bad "datagram $i from pid $(sender "$notes" $i)"; done
grep -q "notify" "$work/daemon.log" && bad "notify warnings in the log: $(grep notify "$work/daemon.log")"

# An abstract socket (@name), as some managers use.
port=$(free_port)
notes="$work/notify-abstract.out"
abstract="@mxguard-systemd-test-$$"
start_listener "$abstract" "$notes" "$port" || bad "abstract listener did not start"
NOTIFY_SOCKET="$abstract" "$MXGUARD" --foreground --allow-root --config '' --policy "$policy" --dns 127.0.0.1@9 \
  --socket "inet:$port@127.0.0.1" 2> "$work/daemon-abstract.log" &
daemon=$!
pids+=($daemon)
if wait_lines "$notes" 1 && [[ $(datagram "$notes" 1) == "READY=1|STATUS=listening on inet:$port@127.0.0.1, policy $policy (1 stages)" ]]; then
  ok "abstract NOTIFY_SOCKET $abstract: READY=1 arrives"
else bad "abstract socket: $(cat "$notes" 2>/dev/null) $(cat "$work/daemon-abstract.log")"; fi
kill -TERM "$daemon"; wait_exit "$daemon"
wait_lines "$notes" 2; [[ $(datagram "$notes" 2) == "STOPPING=1|STATUS=stopping on signal 15" && "$rc" == 0 ]] \
  && ok "abstract socket: STOPPING=1, exit 0" || bad "abstract stop: rc=$rc: $(cat "$notes")"

# No NOTIFY_SOCKET: nothing sent, nothing logged about it. A dead one: one warning, still serving.
port=$(free_port)
env -u NOTIFY_SOCKET "$MXGUARD" --foreground --allow-root --config '' --policy "$policy" --dns 127.0.0.1@9 \
  --socket "inet:$port@127.0.0.1" 2> "$work/daemon-none.log" &
daemon=$!
pids+=($daemon)
for _ in $(seq 50); do grep -q "listening on" "$work/daemon-none.log" && break; sleep 0.1; done
out=$(python3 "$work/milter_client.py" "$port" bad_name.example 2>&1)
kill -TERM "$daemon"; wait_exit "$daemon"
if [[ "$out" == c && "$rc" == 0 ]] && ! grep -qi "notif" "$work/daemon-none.log"; then
  ok "without NOTIFY_SOCKET: serves, stops with 0, no notification attempted"
else bad "without NOTIFY_SOCKET: client '$out', rc=$rc: $(cat "$work/daemon-none.log")"; fi
port=$(free_port)
NOTIFY_SOCKET="$work/nobody-listens.sock" "$MXGUARD" --foreground --allow-root --config '' --policy "$policy" \
  --dns 127.0.0.1@9 --socket "inet:$port@127.0.0.1" 2> "$work/daemon-dead.log" &
daemon=$!
pids+=($daemon)
for _ in $(seq 50); do grep -q "cannot notify" "$work/daemon-dead.log" && break; sleep 0.1; done
out=$(python3 "$work/milter_client.py" "$port" bad_name.example 2>&1)
kill -TERM "$daemon"; wait_exit "$daemon"
if grep -q "warning: cannot notify the service manager at $work/nobody-listens.sock: No such file or directory" "$work/daemon-dead.log" \
   && [[ "$out" == c && "$rc" == 0 ]]; then
  ok "NOTIFY_SOCKET nobody listens on: a warning, and the daemon serves and stops normally"
else bad "dead NOTIFY_SOCKET: client '$out', rc=$rc: $(cat "$work/daemon-dead.log")"; fi

# With --user (root only): notifications still reach a manager's socket after the switch, as
# systemd's world-writable /run/systemd/notify does.
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
  mkdir -m 755 "$work/pub" && chmod 755 "$work"
  port=$(free_port)
  notes="$work/notify-user.out"
  start_listener "$work/pub/notify.sock" "$notes" "$port" || bad "listener (--user) did not start"
  chmod 777 "$work/pub/notify.sock"
  NOTIFY_SOCKET="$work/pub/notify.sock" "$MXGUARD" --foreground --config '' --policy "$policy" --dns 127.0.0.1@9 \
    --socket "inet:$port@127.0.0.1" --user nobody 2> "$work/daemon-user.log" &
  daemon=$!
  pids+=($daemon)
  wait_lines "$notes" 1
  user=$(ps -o user= -p "$daemon" | tr -d ' ')
  kill -TERM "$daemon"; wait_exit "$daemon"
  wait_lines "$notes" 2
  if [[ "$user" == nobody && $(datagram "$notes" 1) == READY=1* && $(datagram "$notes" 2) == STOPPING=1* && "$rc" == 0 ]]; then
    ok "--user nobody: READY=1 and STOPPING=1 sent after the switch"
  else bad "--user nobody: user '$user', rc=$rc: $(cat "$notes") $(cat "$work/daemon-user.log")"; fi
else
  echo "skip: --user with notifications needs root and a 'nobody' user"
fi

# ---- 5. logrotate ------------------------------------------------------------------------------
# The installed file, with its paths moved into $work, rotates a [record] file the daemon holds
# open: the old lines in the copy, the file empty and appended to from the start again.
if command -v logrotate >/dev/null 2>&1; then
  out=$(logrotate -d "$root$etc/logrotate.d/mxguard" 2>&1); rc=$?
  [[ $rc -eq 0 && "$out" != *error* ]] && ok "logrotate -d accepts /etc/logrotate.d/mxguard" \
    || bad "logrotate -d: rc=$rc: $out"
  mkdir -m 700 "$work/lib" "$work/log"
  sed -e "s|/var/lib/mxguard/|$work/lib/|; s|/var/log/mxguard/|$work/log/|" \
    "$root$etc/logrotate.d/mxguard" > "$work/logrotate.conf"
  printf '[record]\nfile = %s\n' "$work/lib/transactions.jsonl" > "$work/record.conf"
  port=$(free_port)
  "$MXGUARD" --foreground --allow-root --config "$work/record.conf" --policy "$policy" --dns 127.0.0.1@9 \
    --socket "inet:$port@127.0.0.1" 2> "$work/daemon-record.log" &
  daemon=$!
  pids+=($daemon)
  for _ in $(seq 50); do grep -q "listening on" "$work/daemon-record.log" && break; sleep 0.1; done
  python3 "$work/milter_client.py" "$port" first.example.net >/dev/null 2>&1
  for _ in $(seq 50); do [[ -s "$work/lib/transactions.jsonl" ]] && break; sleep 0.1; done
  logrotate -f -s "$work/logrotate.state" "$work/logrotate.conf" > "$work/logrotate.out" 2>&1; lrc=$?
  python3 "$work/milter_client.py" "$port" second.example.net >/dev/null 2>&1
  for _ in $(seq 50); do [[ -s "$work/lib/transactions.jsonl" ]] && break; sleep 0.1; done
  kill -TERM "$daemon"; wait_exit "$daemon"
  old=$(cat "$work/lib/transactions.jsonl.1" 2>/dev/null)
  new=$(cat "$work/lib/transactions.jsonl" 2>/dev/null)
  if [[ $lrc -eq 0 && $(wc -l <<<"$old") -eq 1 && "$old" == *first.example.net* \
        && $(wc -l <<<"$new") -eq 1 && "$new" == *second.example.net* && "$new" == "{"* \
        && $(tr -d '\000' < "$work/lib/transactions.jsonl" | wc -c) -eq $(wc -c < "$work/lib/transactions.jsonl") ]]; then
    ok "logrotate (copytruncate) rotates the open [record] file: 1 line in .1, the next line at the start of the emptied file"
  else bad "record rotation: logrotate rc=$lrc $(cat "$work/logrotate.out"); .1='$old'; file='$new'; $(cat "$work/daemon-record.log")"; fi
else
  echo "skip: logrotate is not installed (syntax of /etc/logrotate.d/mxguard not checked)"
fi

tb_summary
