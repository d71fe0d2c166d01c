#!/usr/bin/env bash
# daemon_config_test.sh - the daemon and the harness on bad input: config errors name
# file:line:option and exit 78, usage errors exit 64, SIGHUP reload keeps the old policy when the
# new one is broken, SIGTERM stops the daemon within a few seconds; files others can write, that
# are not files, or that are huge are refused (78); a symbolic link planted for the pid file or
# the [record] file is refused, and both are opened as the service user.
# Must not: use the network beyond loopback (the daemon forwards DNS to an unused loopback port).
set -uo pipefail
MXGUARD=$1
CHECK=$2
work=$(mktemp -d)
here=$(cd "$(dirname "$0")/../.." && pwd)
daemon_pid=""
cleanup() {
  [[ -n "$daemon_pid" ]] && kill -9 "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=tests/testbed/testbed.sh
source "$here/tests/testbed/testbed.sh"  # ok, bad, tb_summary

# expect_config_error NAME EXPECTED-STDERR -- policy text on stdin
expect_config_error() {
  local name=$1 expected=$2
  cat > "$work/$name.conf"
  local out rc
  out=$("$MXGUARD" --check-config --config '' --policy "$work/$name.conf" --dns 127.0.0.1@9 2>&1)
  rc=$?
  if [[ $rc -eq 78 && "$out" == *"$expected"* ]]; then ok "$name: exit 78, '$expected'"
  else bad "$name: rc=$rc, expected 78 and '$expected', got: $out"; fi
  out=$("$CHECK" --policy "$work/$name.conf" --dns 127.0.0.1@9 --client-ip 192.0.2.1 2>&1)
  rc=$?
  if [[ $rc -eq 78 && "$out" == *"$expected"* ]]; then ok "$name (mxguard-check): exit 78"
  else bad "$name (mxguard-check): rc=$rc, got: $out"; fi
}

expect_config_error syntax "$work/syntax.conf:3: " <<'P'
[engine]
stages = helo
this line is not an option
P
expect_config_error unknown_option "$work/unknown_option.conf:4: helo.colour: unknown option 'colour' in [helo]" <<'P'
[engine]
stages = helo
[helo]
colour = blue
P
expect_config_error unknown_variable "$work/unknown_variable.conf:5: helo.reply_invalid: unknown variable \${client_adress}" <<'P'
[engine]
stages = helo
[helo]
# a typo in a template variable must be caught at load
reply_invalid = 501 5.5.2 <${helo_name}>: rejected for ${client_adress}
P
expect_config_error unknown_stage "$work/unknown_stage.conf:2: engine.stages: unknown stage 'spam'; known stages: " <<'P'
[engine]
stages = rbl spam
[rbl]
zone = dnsbl.example.net
P
expect_config_error unknown_section "$work/unknown_section.conf:3: hello: unknown section [hello]" <<'P'
[engine]
stages = helo
[hello]
P
expect_config_error bad_mode "$work/bad_mode.conf:4: helo.mode: invalid value 'loud' (use enforce or observe)" <<'P'
[engine]
stages = helo
[helo]
mode = loud
P
expect_config_error bad_cidr "$work/bad_cidr.conf:2: engine.whitelist_clients: invalid address or CIDR '192.0.2.0/99'" <<'P'
[engine]
whitelist_clients = 127.0.0.0/8 192.0.2.0/99
P
expect_config_error bad_duration "$work/bad_duration.conf:4: rbl.timeout: invalid duration 'soon'" <<'P'
[engine]
stages = rbl
[rbl]
timeout = soon
zone = dnsbl.example.net
P

out=$("$MXGUARD" --check-config --config '' --policy "$work/missing.conf" 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == *"$work/missing.conf: cannot open"* ]]; then ok "missing policy file: exit 78"
else bad "missing policy file: rc=$rc: $out"; fi

printf '[store]\nbackend = redis\nredis = localhost\n' > "$work/bad-store.conf"
out=$("$MXGUARD" --check-config --config "$work/bad-store.conf" --policy "$here/policies/default.conf" 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == *"$work/bad-store.conf:3: store.redis: invalid address 'localhost' (use host:port, e.g. 127.0.0.1:6379)"* ]]; then
  ok "bad [store] redis address: exit 78"
else bad "bad [store]: rc=$rc: $out"; fi

# Files that decide what the daemon does: others must not be able to change them, and what is not
# a configuration file (a device, a FIFO, something huge) is refused rather than read.
printf '[engine]\nstages = helo\n' > "$work/writable.conf"
chmod 0666 "$work/writable.conf"
want="$work/writable.conf: mode 0666 lets group and others change this file, which decides what mxguard does with mail; run: chmod go-w $work/writable.conf"
out=$("$MXGUARD" --check-config --config '' --policy "$work/writable.conf" --dns 127.0.0.1@9 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == "mxguard: $want" ]]; then ok "world-writable policy: exit 78, '$want'"
else bad "world-writable policy: rc=$rc: $out"; fi
out=$("$CHECK" --policy "$work/writable.conf" --dns 127.0.0.1@9 --client-ip 192.0.2.1 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == *"$want"* ]]; then ok "world-writable policy (mxguard-check): exit 78"
else bad "world-writable policy (mxguard-check): rc=$rc: $out"; fi
cp "$here/config/mxguard.conf" "$work/group-writable-mxguard.conf" && chmod 0664 "$work/group-writable-mxguard.conf"
out=$("$MXGUARD" --check-config --config "$work/group-writable-mxguard.conf" --policy "$here/policies/default.conf" 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == *"group-writable-mxguard.conf: mode 0664 lets group change this file"* ]]; then
  ok "group-writable mxguard.conf: exit 78"
else bad "group-writable mxguard.conf: rc=$rc: $out"; fi
# A 4 GB address-space cap turns a read of /dev/zero into a quick failure instead of a swapping
# machine; an ASan build reserves terabytes of shadow address space up front, so not under ASan.
asan=0
grep -q __asan_init "$MXGUARD" && asan=1
out=$( ((asan)) || ulimit -v 4000000; "$MXGUARD" --check-config --config '' --policy /dev/zero --dns 127.0.0.1@9 2>&1); rc=$?
want="mxguard: /dev/zero: not a regular file (a character device); give the path of a configuration file"
if [[ $rc -eq 78 && "$out" == "$want" ]]; then ok "--policy /dev/zero: exit 78, '$want'"
else bad "--policy /dev/zero: rc=$rc: $(head -c 300 <<<"$out")"; fi
head -c 2000000 /dev/zero | tr '\0' '#' > "$work/huge.conf"
out=$("$MXGUARD" --check-config --config '' --policy "$work/huge.conf" --dns 127.0.0.1@9 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == "mxguard: $work/huge.conf: 2000000 bytes, larger than the 1048576 a configuration file may have" ]]; then
  ok "2 MB policy: exit 78"
else bad "2 MB policy: rc=$rc: $out"; fi

out=$("$MXGUARD" --bogus-flag 2>&1); rc=$?
if [[ $rc -eq 64 && "$out" == *"unrecognised option '--bogus-flag'"* ]]; then ok "daemon usage error: exit 64"
else bad "daemon usage error: rc=$rc: $out"; fi
out=$("$CHECK" --helo x 2>&1); rc=$?
if [[ $rc -eq 64 && "$out" == *"--client-ip is required"* ]]; then ok "harness without --client-ip: exit 64"
else bad "harness without --client-ip: rc=$rc: $out"; fi
out=$("$CHECK" --client-ip 300.1.2.3 2>&1); rc=$?
if [[ $rc -eq 64 && "$out" == *"is not an IPv4 or IPv6 address"* ]]; then ok "harness bad --client-ip: exit 64"
else bad "harness bad --client-ip: rc=$rc: $out"; fi

for p in default strict; do
  out=$("$MXGUARD" --check-config --config '' --policy "$here/policies/$p.conf" --dns 127.0.0.1@9 2>&1); rc=$?
  if [[ $rc -eq 0 && "$out" == *"configuration OK"* ]]; then ok "shipped policies/$p.conf is valid"
  else bad "policies/$p.conf: rc=$rc: $out"; fi
done
# Its `user = mxguard` must exist (startup_checks_test.sh: the error when it does not); where it
# does not, --user nobody stands in (the command line wins over the file).
stand_in=()
id mxguard >/dev/null 2>&1 || stand_in=(--user nobody)
out=$("$MXGUARD" --check-config --config "$here/config/mxguard.conf" --policy "$here/policies/default.conf" "${stand_in[@]}" 2>&1); rc=$?
if [[ $rc -eq 0 ]]; then ok "shipped config/mxguard.conf is valid"; else bad "config/mxguard.conf: rc=$rc: $out"; fi
# libmilter trusts whatever reaches its socket (a malformed macro packet crashes it): the default
# and the shipped socket are a unix socket in /run/mxguard, not a TCP port every local user can use.
if [[ "$out" == *"; socket unix:/run/mxguard/mxguard.sock;"* ]]; then ok "shipped config/mxguard.conf: socket unix:/run/mxguard/mxguard.sock"
else bad "shipped socket: $out"; fi
out=$("$MXGUARD" --check-config --config '' --policy "$here/policies/default.conf" --dns 127.0.0.1@9 2>&1)
if [[ "$out" == *"; socket unix:/run/mxguard/mxguard.sock;"* ]]; then ok "default socket: unix:/run/mxguard/mxguard.sock"
else bad "default socket: $out"; fi
printf 'max_connections = 0\n' > "$work/max0.conf"
out=$("$MXGUARD" --check-config --config "$work/max0.conf" --policy "$here/policies/default.conf" 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == "mxguard: $work/max0.conf:1: max_connections: value 0 is below the minimum 1" ]]; then
  ok "max_connections = 0: exit 78"
else bad "max_connections = 0: rc=$rc: $out"; fi

# SIGHUP: a broken policy is refused and the old one keeps serving; a good one is taken.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/live.conf" <<'P'
[engine]
stages = helo
P
"$MXGUARD" --foreground --config '' --allow-root --policy "$work/live.conf" --dns 127.0.0.1@9 --socket "inet:$port@127.0.0.1" \
  --hostname mx.example.net 2> "$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 50); do grep -q "listening on" "$work/daemon.log" && break; sleep 0.1; done
grep -q "listening on inet:$port@127.0.0.1" "$work/daemon.log" && ok "daemon started" || bad "daemon did not start: $(cat "$work/daemon.log")"
printf '[engine]\nstages = helo\n[helo]\nnon_fqdn = sometimes\n' > "$work/live.conf"
kill -HUP "$daemon_pid"
for _ in $(seq 50); do grep -q "reload" "$work/daemon.log" && break; sleep 0.1; done
if grep -q "policy reload refused, keeping the running policy: $work/live.conf:4: helo.non_fqdn" "$work/daemon.log" \
   && kill -0 "$daemon_pid" 2>/dev/null; then ok "SIGHUP with a broken policy: refused, still running"
else bad "SIGHUP broken policy: $(cat "$work/daemon.log")"; fi
printf '[engine]\nstages = helo rdns\n' > "$work/live.conf"
kill -HUP "$daemon_pid"
for _ in $(seq 50); do grep -q "policy reloaded" "$work/daemon.log" && break; sleep 0.1; done
grep -q "policy reloaded from $work/live.conf (2 stages)" "$work/daemon.log" && ok "SIGHUP with a good policy: reloaded" \
  || bad "SIGHUP good policy: $(cat "$work/daemon.log")"
kill -USR1 "$daemon_pid"
for _ in $(seq 50); do grep -q "counters:" "$work/daemon.log" && break; sleep 0.1; done
grep -q "info: counters: (none yet)" "$work/daemon.log" && ok "SIGUSR1 logs the counters" \
  || bad "SIGUSR1: $(grep counters "$work/daemon.log")"
start=$(date +%s%N)
kill -TERM "$daemon_pid"
stopped=0
for _ in $(seq 150); do kill -0 "$daemon_pid" 2>/dev/null || { stopped=1; break; }; sleep 0.1; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if ((stopped)); then wait "$daemon_pid"; rc=$?; daemon_pid=""
  if [[ $rc -eq 0 ]]; then ok "SIGTERM: exited 0 after ${ms} ms"; else bad "SIGTERM: exit code $rc"; fi
else bad "SIGTERM: still running after ${ms} ms"; fi

# The pid file and the [record] file: a symbolic link planted where they go is refused, and the
# file it points at is left alone; without one, the pid file holds the pid and goes at exit.
# start_expecting_exit NAME ARGS...: the daemon must exit by itself within 10 s; sets rc and out.
start_expecting_exit() {
  local name=$1 pid i config=(--config '')
  shift
  [[ " $* " == *" --config "* ]] && config=()
  "$MXGUARD" --foreground --allow-root "${config[@]}" --policy "$work/live.conf" --dns 127.0.0.1@9 "$@" 2> "$work/$name.log" &
  pid=$!
  rc=running
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || { wait "$pid"; rc=$?; break; }; sleep 0.1; done
  [[ $rc == running ]] && { kill -9 "$pid"; wait "$pid" 2>/dev/null; }
  out=$(cat "$work/$name.log")
}
mkdir "$work/run" && echo "precious" > "$work/victim"
ln -s "$work/victim" "$work/run/mxguard.pid"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_expecting_exit pid-link --socket "inet:$port@127.0.0.1" --pidfile "$work/run/mxguard.pid"
if [[ $rc == 73 && "$out" == *"error: pid file $work/run/mxguard.pid is a symbolic link; refusing to follow it"* \
      && $(cat "$work/victim") == precious ]]; then
  ok "pid file planted as a symbolic link: exit 73, refused, the target untouched"
else bad "pid file symlink: rc=$rc, victim '$(cat "$work/victim")': $out"; fi
printf '[record]\nfile = %s\n' "$work/run/transactions.jsonl" > "$work/record.conf"
ln -s "$work/victim" "$work/run/transactions.jsonl"
start_expecting_exit record-link --config "$work/record.conf" --socket "inet:$port@127.0.0.1"
if [[ $rc == 78 && "$out" == *"error: $work/record.conf: record.file: '$work/run/transactions.jsonl' is a symbolic link; refusing to follow it"* \
      && $(cat "$work/victim") == precious ]]; then
  ok "[record] file planted as a symbolic link: exit 78, refused, the target untouched"
else bad "record file symlink: rc=$rc, victim '$(cat "$work/victim")': $out"; fi
rm -f "$work/run/mxguard.pid"
"$MXGUARD" --foreground --config '' --allow-root --policy "$work/live.conf" --dns 127.0.0.1@9 --socket "inet:$port@127.0.0.1" \
  --pidfile "$work/run/mxguard.pid" 2> "$work/pid.log" &
daemon_pid=$!
for _ in $(seq 50); do grep -q "listening on" "$work/pid.log" && break; sleep 0.1; done
[[ $(cat "$work/run/mxguard.pid" 2>/dev/null) == "$daemon_pid" ]] && ok "pid file holds the daemon's pid" \
  || bad "pid file: '$(cat "$work/run/mxguard.pid" 2>/dev/null)', pid $daemon_pid: $(cat "$work/pid.log")"
kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=""
[[ ! -e "$work/run/mxguard.pid" ]] && ok "pid file removed at exit" || bad "pid file left behind"

# Privileges: bound as root, then running as the configured user; a unix socket it can use.
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
  "$MXGUARD" --foreground --config '' --policy "$work/live.conf" --dns 127.0.0.1@9 --socket "unix:$work/m.sock" \
    --user nobody 2> "$work/daemon2.log" &
  daemon_pid=$!
  for _ in $(seq 50); do grep -q "listening on" "$work/daemon2.log" && break; sleep 0.1; done
  user=$(ps -o user= -p "$daemon_pid" | tr -d ' ')
  owner=$(stat -c %U "$work/m.sock" 2>/dev/null)
  if [[ "$user" == nobody && "$owner" == nobody ]]; then ok "--user nobody: runs as nobody, socket owned by nobody"
  else bad "--user: process user '$user', socket owner '$owner': $(cat "$work/daemon2.log")"; fi
  kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=""
  # An unknown --user is a usage error found before anything starts (it was exit 71 at the drop).
  out=$("$MXGUARD" --foreground --config '' --policy "$work/live.conf" --dns 127.0.0.1@9 --socket "unix:$work/m2.sock" --user no-such-user 2>&1); rc=$?
  want="mxguard: --user: no such user 'no-such-user'"$'\n'"Try 'mxguard --help'."
  if [[ $rc -eq 64 && "$out" == "$want" && ! -e "$work/m2.sock" ]]; then ok "--user unknown: exit 64, '$want', no socket made"
  else bad "--user unknown: rc=$rc: $out"; fi
  # Opened as the user, not as root: a root-only directory is refused for both files; nobody's
  # own directory works.
  chmod 0755 "$work"
  mkdir -m 0755 "$work/rootonly" && mkdir -m 0755 "$work/nobodys" && chown nobody "$work/nobodys"
  chmod 0644 "$work/live.conf"
  printf '[record]\nfile = %s\n' "$work/rootonly/transactions.jsonl" > "$work/record-root.conf"
  start_expecting_exit record-root --config "$work/record-root.conf" --socket "unix:$work/m3.sock" --user nobody
  if [[ $rc == 78 && "$out" == *"record.file: cannot open '$work/rootonly/transactions.jsonl' for appending: Permission denied"* ]]; then
    ok "--user nobody: the [record] file is opened as nobody (root's directory refused)"
  else bad "--user nobody, record in root's directory: rc=$rc: $out"; fi
  start_expecting_exit pid-root --socket "unix:$work/m4.sock" --user nobody --pidfile "$work/rootonly/mxguard.pid"
  if [[ $rc == 73 && "$out" == *"cannot create the pid file $work/rootonly/mxguard.pid: Permission denied"* ]]; then
    ok "--user nobody: the pid file is written as nobody (root's directory refused)"
  else bad "--user nobody, pid file in root's directory: rc=$rc: $out"; fi
  printf '[record]\nfile = %s\n' "$work/nobodys/transactions.jsonl" > "$work/record-nobody.conf"
  "$MXGUARD" --foreground --policy "$work/live.conf" --dns 127.0.0.1@9 --socket "unix:$work/m5.sock" --user nobody \
    --config "$work/record-nobody.conf" --pidfile "$work/nobodys/mxguard.pid" 2> "$work/daemon5.log" &
  daemon_pid=$!
  for _ in $(seq 50); do grep -q "listening on" "$work/daemon5.log" && break; sleep 0.1; done
  if [[ $(stat -c %U "$work/nobodys/transactions.jsonl" 2>/dev/null) == nobody \
        && $(stat -c %U "$work/nobodys/mxguard.pid" 2>/dev/null) == nobody ]]; then
    ok "--user nobody: the [record] file and the pid file belong to nobody"
  else bad "--user nobody: $(ls -l "$work/nobodys") $(cat "$work/daemon5.log")"; fi
  kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=""
else
  echo "skip: privilege drop needs root and a 'nobody' user"
fi

tb_summary
