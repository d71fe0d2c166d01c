#!/usr/bin/env bash
# daemon_config_test.sh - the daemon and the harness on bad input: config errors name
# file:line:option and exit 78, usage errors exit 64, SIGHUP reload keeps the old policy when the
# new one is broken, SIGTERM stops the daemon within a few seconds.
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
  out=$("$MXGUARD" --check-config --policy "$work/$name.conf" --dns 127.0.0.1@9 2>&1)
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

out=$("$MXGUARD" --check-config --policy "$work/missing.conf" 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == *"$work/missing.conf: cannot open"* ]]; then ok "missing policy file: exit 78"
else bad "missing policy file: rc=$rc: $out"; fi

printf '[store]\nbackend = redis\nredis = localhost\n' > "$work/bad-store.conf"
out=$("$MXGUARD" --check-config --config "$work/bad-store.conf" --policy "$here/policies/default.conf" 2>&1); rc=$?
if [[ $rc -eq 78 && "$out" == *"$work/bad-store.conf:3: store.redis: invalid address 'localhost' (use host:port, e.g. 127.0.0.1:6379)"* ]]; then
  ok "bad [store] redis address: exit 78"
else bad "bad [store]: rc=$rc: $out"; fi

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
  out=$("$MXGUARD" --check-config --policy "$here/policies/$p.conf" --dns 127.0.0.1@9 2>&1); rc=$?
  if [[ $rc -eq 0 && "$out" == *"configuration OK"* ]]; then ok "shipped policies/$p.conf is valid"
  else bad "policies/$p.conf: rc=$rc: $out"; fi
done
out=$("$MXGUARD" --check-config --config "$here/config/mxguard.conf" --policy "$here/policies/default.conf" 2>&1); rc=$?
if [[ $rc -eq 0 ]]; then ok "shipped config/mxguard.conf is valid"; else bad "config/mxguard.conf: rc=$rc: $out"; fi

# SIGHUP: a broken policy is refused and the old one keeps serving; a good one is taken.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/live.conf" <<'P'
[engine]
stages = helo
P
"$MXGUARD" --foreground --allow-root --policy "$work/live.conf" --dns 127.0.0.1@9 --socket "inet:$port@127.0.0.1" \
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

# Privileges: bound as root, then running as the configured user; a unix socket it can use.
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1; then
  "$MXGUARD" --foreground --policy "$work/live.conf" --dns 127.0.0.1@9 --socket "unix:$work/m.sock" \
    --user nobody 2> "$work/daemon2.log" &
  daemon_pid=$!
  for _ in $(seq 50); do grep -q "listening on" "$work/daemon2.log" && break; sleep 0.1; done
  user=$(ps -o user= -p "$daemon_pid" | tr -d ' ')
  owner=$(stat -c %U "$work/m.sock" 2>/dev/null)
  if [[ "$user" == nobody && "$owner" == nobody ]]; then ok "--user nobody: runs as nobody, socket owned by nobody"
  else bad "--user: process user '$user', socket owner '$owner': $(cat "$work/daemon2.log")"; fi
  kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=""
  out=$("$MXGUARD" --foreground --policy "$work/live.conf" --dns 127.0.0.1@9 --socket "unix:$work/m2.sock" --user no-such-user 2>&1); rc=$?
  if [[ $rc -eq 71 && "$out" == *"user 'no-such-user' does not exist"* ]]; then ok "--user unknown: exit 71 with the reason"
  else bad "--user unknown: rc=$rc: $out"; fi
else
  echo "skip: privilege drop needs root and a 'nobody' user"
fi

tb_summary
