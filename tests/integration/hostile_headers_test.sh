#!/usr/bin/env bash
# hostile_headers_test.sh - issue 28 through a real Postfix: a message with 130,000 forged
# Authentication-Results fields carrying our authserv-id is refused at the end of DATA with the
# exact 550 (no 130,000 deletions: Postfix's cleanup must not panic), mxguard's log line stays
# bounded, the next ordinary message is accepted at once, and a few forgeries (a trailing dot on
# our id too) are removed from a delivered message.
# Must not: depend on DNS answers beyond what the testbed's nsd serves; take a minute.
set -uo pipefail
MXGUARD=$1
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init

start_nsd || exit 1
cat > "$TB_DIR/policy.conf" <<'EOF'
[engine]
stages = headers
whitelist_clients =
[headers]
date_range = off
EOF
MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" || exit 1
start_postfix || exit 1

# message FILE COUNT [ID]: an ordinary message with COUNT Authentication-Results fields claiming
# ID (default our authserv-id, mx.example.net: start_mxguard's --hostname).
message() {
  local file=$1 count=$2 id=${3:-mx.example.net}
  {
    printf 'From: sender@example.org\r\nTo: user@example.org\r\nSubject: hostile %s\r\n' "$count"
    printf 'Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s.%s@example.org>\r\n' "$count" "$RANDOM"
    awk -v n="$count" -v id="$id" \
      'BEGIN { for (i = 0; i < n; i++) printf "Authentication-Results: %s; spf=pass\r\n", id }'
    printf '\r\nbody\r\n'
  } > "$file"
}
send() {  # NAME FILE
  tb_swaks --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
    --xclient-reverse-name mail.client.example.net --ehlo mail.client.example.net \
    --from sender@example.org --to "user@$TB_MAIL_DOMAIN" --data "$2" > "$TB_DIR/$1.swaks"
}
data_reply() {  # the reply to the end of DATA
  awk '/^ -> \.$/ {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' "$TB_DIR/$1.swaks"
}

# 1. 130,000 forgeries: refused as a whole, nothing for cleanup to delete.
message "$TB_DIR/hostile.eml" 130000
size=$(stat -c %s "$TB_DIR/hostile.eml")
send hostile "$TB_DIR/hostile.eml"
got=$(data_reply hostile)
want="550 5.7.1 Message rejected: 130000 Authentication-Results header fields claim this server's authserv-id mx.example.net (at most 20 are removed); it is forged"
[[ "$got" == "$want" ]] && ok "130,000 forged fields ($size bytes): '$got'" \
  || bad "130,000 forged fields: expected '$want', got '$got'"
line=$(tb_wait_log "$MXGUARD_LOG" "engine:too_many_forged_authentication_results/reject" 10)
if [[ -n "$line" ]]; then
  ((${#line} <= 4096)) && ok "log line: ${#line} bytes (at most 4096)" \
    || bad "log line: ${#line} bytes"
else bad "no log line for the forged message"; fi
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$MXGUARD_PID/status" 2>/dev/null)
echo "info: mxguard peak RSS ${hwm:-?} kB"
if grep -E "cleanup_milter_error|panic|fatal" "$POSTFIX_LOG" >/dev/null; then
  bad "Postfix log: $(grep -E 'cleanup_milter_error|panic|fatal' "$POSTFIX_LOG" | head -3)"
else ok "Postfix log: no cleanup_milter_error, panic or fatal"; fi

# 2. The next ordinary message is not throttled behind a killed cleanup.
message "$TB_DIR/ordinary.eml" 0
start=$(date +%s.%N)
send ordinary "$TB_DIR/ordinary.eml"
end=$(date +%s.%N)
got=$(data_reply ordinary)
took=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
if [[ "$got" == "250 2.0.0 Ok: queued as "* ]] && awk -v t="$took" 'BEGIN { exit !(t < 1.0) }'; then
  ok "next message accepted in $took s ($got)"
else bad "next message: '$got' after $took s"; fi

# 3. Up to the cap, forgeries are removed; a trailing dot on our id is our id.
message "$TB_DIR/few.eml" 3 "mx.example.net."
send few "$TB_DIR/few.eml"
got=$(data_reply few)
[[ "$got" == "250 2.0.0 Ok: queued as "* ]] && ok "3 forged fields (trailing dot): $got" \
  || bad "3 forged fields: $got"
if f=$(tb_wait_delivery user "Subject: hostile 3" 10); then
  n=$(grep -ci "^Authentication-Results: mx.example.net" "$f")
  expect_eq "forged fields left in the delivered copy" 0 "$n"
else bad "the message with 3 forged fields was not delivered"; fi

stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
