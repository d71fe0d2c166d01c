#!/usr/bin/env bash
# dns_failure_test.sh - a DNS server that never answers, or no DNS server at all: every stage
# follows its on_failure within its timeout (a 4xx, or accept), never a 5xx, never a hang.
# Must not: depend on timing finer than "well within twice the configured deadline".
set -uo pipefail
CHECK=$2
here="$(cd "$(dirname "$0")/.." && pwd)"
work=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=tests/testbed/testbed.sh
source "$here/testbed/testbed.sh"  # ok, bad, tb_summary
command -v python3 >/dev/null || tb_skip "python3 is not installed"

# A server that holds every query for a minute: as good as silent for a 500 ms deadline.
echo "x.example.net 300 A 192.0.2.1" > "$work/zone"
python3 "$here/testbed/slow_dns.py" --zone-file "$work/zone" --delay-ms 60000 > "$work/port" &
server_pid=$!
for _ in $(seq 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done
silent="127.0.0.1@$(head -1 "$work/port")"
# Nothing listens here: the port of a socket we bound and closed.
closed="127.0.0.1@$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

policy() {  # policy ON_FAILURE_RDNS ON_FAILURE_HELO
  cat <<P
[engine]
stages = rbl helo rdns
whitelist_clients =
[rbl]
on_failure = accept
timeout = 500ms
zone = dnsbl.example.net
[helo]
on_failure = $2
timeout = 500ms
unresolvable = reject
[rdns]
on_failure = $1
timeout = 500ms
P
}

# run NAME DNS EXPECTED_EXIT EXPECTED_REPLY_LINE
run() {
  local name=$1 dns=$2 want_rc=$3 want=$4 start ms out rc
  start=$(date +%s%N)
  out=$("$CHECK" --policy "$work/$name.conf" --dns "$dns" --hostname mx.example.net \
        --client-ip 192.0.2.10 --helo mail.client.example.net --from a@example.org --rcpt b@example.org 2>&1)
  rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [[ $rc -eq $want_rc && "$out" == *"$want"* && $ms -lt 3000 ]]; then
    ok "$name: exit $rc in $ms ms: $want"
  else
    bad "$name: exit $rc (want $want_rc) in $ms ms, want '$want'; output:"$'\n'"$out"
  fi
}

policy tempfail tempfail > "$work/silent-tempfail.conf"
run silent-tempfail "$silent" 2 "<<< 450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.10]"
cp "$work/silent-tempfail.conf" "$work/closed-tempfail.conf"
run closed-tempfail "$closed" 2 "<<< 450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.10]"
policy accept tempfail > "$work/silent-helo.conf"
run silent-helo "$silent" 2 "<<< 450 4.7.1 <mail.client.example.net>: Helo command rejected: Host not found (DNS lookup failed temporarily: timed out after 500 ms); try again later"
policy accept accept > "$work/silent-accept.conf"
run silent-accept "$silent" 0 "rdns: dns_failure (PTR: timed out after 500 ms) -> accepted_on_failure"

tb_summary
