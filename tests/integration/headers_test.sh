#!/usr/bin/env bash
# headers_test.sh - the headers stage through a real Postfix: messages written by mainstream
# clients (tests/fixtures/messages) are delivered; a message without Date is refused at the end
# of DATA with the exact reply; the harness shows the same result for a message file.
# Must not: depend on DNS answers beyond what the testbed's nsd serves.
set -uo pipefail
MXGUARD=$1
CHECK=$2
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
# Postfix would add a missing Date itself for clients it rewrites for; judge what the client sent.
start_postfix "local_header_rewrite_clients =" || exit 1

# send NAME FILE: the file's bytes as the message (swaks sends --data as given).
send() {
  tb_swaks --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
    --xclient-reverse-name mail.client.example.net --ehlo mail.client.example.net \
    --from sender@example.org --to "user@$TB_MAIL_DOMAIN" --data "$2" > "$TB_DIR/$1.swaks"
}
data_reply() {  # the reply to the end of DATA
  awk '/^ -> \.$/ {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' "$TB_DIR/$1.swaks"
}

for fixture in thunderbird outlook gmail applemail mailinglist bounce obsolete_date; do
  send "$fixture" "$here/fixtures/messages/$fixture.eml"
  got=$(data_reply "$fixture")
  if [[ "$got" == "250 2.0.0 Ok: queued as "* ]]; then ok "$fixture: accepted ($got)"
  else bad "$fixture: $got"; fi
done
grep -v '^Date:' "$here/fixtures/messages/thunderbird.eml" > "$TB_DIR/nodate.eml"
send nodate "$TB_DIR/nodate.eml"
got=$(data_reply nodate)
want="550 5.6.0 Message rejected: Date header field is missing (RFC 5322 section 3.6)"
[[ "$got" == "$want" ]] && ok "no Date: '$got'" || bad "no Date: expected '$want', got '$got'"
tb_wait_log "$MXGUARD_LOG" "stages=headers:missing_date/reject action=reject" 5 >/dev/null \
  && ok "log: headers:missing_date/reject" || bad "log line for the missing Date"

out=$("$CHECK" --policy "$TB_DIR/policy.conf" --dns "127.0.0.1@$NSD_PORT" --client-ip 192.0.2.10 \
      --from sender@example.org --rcpt user@example.org --message "$TB_DIR/nodate.eml")
rc=$?
if [[ $rc -eq 1 && "$out" == *"<<< $want"* && "$out" == *"eoh headers: missing_date (no Date) -> reject"* ]]; then
  ok "harness: same reply and trace for the message file"
else bad "harness: rc=$rc: $out"; fi

stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
