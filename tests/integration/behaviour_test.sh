#!/usr/bin/env bash
# behaviour_test.sh - the behaviour stage through a real Postfix: a Python client
# (testbed/smtp_dialogue.py) holds dialogues swaks cannot (many RSETs, messages and a second EHLO in
# one connection) and each case asserts the exact 421 the client sees and that Postfix then closes
# the connection; only recipients our stages refused count; observe mode (after SIGHUP) only logs.
# Must not: depend on DNS beyond the testbed's nsd, or on Postfix's error limits (kept out of reach).
#
# What Postfix tells the milter, as seen here (Postfix 3.7, milter8_abort):
#  - RSET without a transaction (no MAIL FROM yet, or after a delivered message): no abort is
#    sent to the milter, so such RSETs are invisible to mxguard and never count.
#  - RSET after MAIL FROM (also after refused recipients): an abort, counted once per RSET.
#  - A milter reply with code 421: Postfix sends it and closes the connection ("Automatically
#    disconnect after 421" in smtpd's check_milter_reply); the client reads EOF.
set -uo pipefail
MXGUARD=${1:?usage: behaviour_test.sh MXGUARD MXGUARD-CHECK}
here="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/testbed/testbed.sh
source "$here/testbed/testbed.sh"
tb_require python3 nsd nsd-checkconf dig postfix postconf
[[ -x "$MXGUARD" ]] || { echo "FAIL: $MXGUARD is not executable"; exit 1; }
tb_init

start_nsd || exit 1
# Small limits so a test dialogue reaches them; helo and spf make recipients fail for real.
write_policy() {  # write_policy MODE
  cat > "$TB_DIR/policy.conf" <<EOF
[engine]
stages = helo spf behaviour
whitelist_clients =
[helo]
non_fqdn = reject
[spf]
check_helo = no
[behaviour]
mode = $1
max_rsets = 3
max_rejected_recipients = 3
max_messages_per_connection = 5
EOF
}
write_policy enforce
MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" || exit 1
# Postfix slows a client down after smtpd_soft_error_limit errors (sleeping error_count seconds
# per reply) and drops it after smtpd_hard_error_limit: both out of the way, so every 421 seen
# here is mxguard's.
start_postfix "smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 100" || exit 1

CLIENT="mail.client.example.net"
# spfpass.example.net designates 192.0.2.10: the spf stage passes it.
SENDER="sender@spfpass.example.net"
# dialogue NAME [HELO]: the commands on stdin, after EHLO/XCLIENT/EHLO presenting 192.0.2.10 as
# $CLIENT (Postfix opens a new milter session after XCLIENT: its EHLO is the milter's first HELO).
dialogue() {
  local name=$1 helo=${2:-$CLIENT}
  { printf 'EHLO tb.example.net\nXCLIENT ADDR=192.0.2.10 NAME=%s\nEHLO %s\n' "$CLIENT" "$helo"
    cat; } > "$TB_DIR/$name.cmds"
  python3 "$here/testbed/smtp_dialogue.py" --port "$SMTP_PORT" "$TB_DIR/$name.cmds" \
    > "$TB_DIR/$name.out" 2>&1
}
replies() { sed -n 's/^<<< //p' "$TB_DIR/$1.out"; }  # every reply line, in order
# reply_to NAME N CMD: the reply (last line) to the Nth command starting with CMD.
reply_to() {
  awk -v n="$2" -v cmd="$3" '
    /^>>> / { cur = (index(substr($0, 5), cmd) == 1) ? ++seen : 0; next }
    /^<<< / && cur == n { line = substr($0, 5) }
    END { print line }' "$TB_DIR/$1.out"
}
expect_eof() {  # the last thing the client saw is the server closing the connection
  if [[ "$(tail -1 "$TB_DIR/$1.out")" == "<EOF>" ]]; then ok "$1: Postfix closed the connection"
  else bad "$1: connection not closed after the 421: $(tail -3 "$TB_DIR/$1.out" | tr '\n' '|')"; fi
}
expect_log() {  # expect_log LABEL FIXED-STRING
  if tb_wait_log "$MXGUARD_LOG" "$2" 5 >/dev/null; then ok "$1: mxguard log has '$2'"
  else bad "$1: no '$2' in the mxguard log:"; tail -5 "$MXGUARD_LOG" | sed 's/^/    /'; fi
}
mails() { local i; for ((i = 0; i < $1; i++)); do printf '%s\n' "${@:2}"; done; }

RSETS_421="421 4.7.0 mx.example.net Error: too many RSET commands from 192.0.2.10 (limit 3); closing connection"
REJECTED_421="421 4.7.0 mx.example.net Error: too many rejected recipients from 192.0.2.10 (limit 3); closing connection"
MESSAGES_421="421 4.7.0 mx.example.net Error: too many messages in one connection from 192.0.2.10 (limit 5); closing connection"

# 1. Four transactions abandoned with RSET (limit 3): the fifth MAIL FROM gets the 421, then EOF.
mails 4 "MAIL FROM:<$SENDER>" "RSET" | { cat; echo "MAIL FROM:<$SENDER>"; echo QUIT; } \
  | dialogue rsets
expect_eq "rsets: MAIL 4 still accepted" "250 2.1.0 Ok" "$(reply_to rsets 4 MAIL)"
expect_eq "rsets: RSET 4" "250 2.0.0 Ok" "$(reply_to rsets 4 RSET)"
expect_eq "rsets: MAIL 5" "$RSETS_421" "$(reply_to rsets 5 MAIL)"
expect_eof rsets
expect_log "rsets: each RSET after MAIL FROM is an abort" \
  "from=<$SENDER> stages=helo:ok,spf:pass action=abort"
expect_log "rsets: the 421 in the log" \
  "stages=helo:ok,spf:pass,behaviour:too_many_rsets/tempfail action=disconnect"
grep -qF "milter-reject: MAIL from $CLIENT[192.0.2.10]: $RSETS_421" "$POSTFIX_LOG" \
  && ok "rsets: Postfix logged the milter-reject" || bad "rsets: no milter-reject in the Postfix log"

# 2. RSET outside a transaction: Postfix does not tell the milter, so ten of them do not count.
{ mails 10 RSET; echo "MAIL FROM:<$SENDER>"; echo "RSET"; echo QUIT; } | dialogue rsets-idle
expect_eq "idle RSETs: RSET 10" "250 2.0.0 Ok" "$(reply_to rsets-idle 10 RSET)"
expect_eq "idle RSETs: not counted, MAIL accepted" "250 2.1.0 Ok" "$(reply_to rsets-idle 1 MAIL)"

# 3. Messages per connection (limit 5), each followed by an RSET: five delivered, the sixth MAIL FROM
#    refused. The RSETs after delivered messages (no transaction open) are not aborts: had they
#    counted, the fifth MAIL FROM would have met too_many_rsets (4 > 3).
{ mails 5 "MAIL FROM:<$SENDER>" "RCPT TO:<user@example.org>" MESSAGE RSET
  echo "MAIL FROM:<$SENDER>"; echo QUIT; } | dialogue messages
for n in 1 5; do
  got=$(reply_to messages "$n" MESSAGE)
  [[ "$got" == "250 2.0.0 Ok: queued as "* ]] && ok "messages: message $n delivered ($got)" \
    || bad "messages: message $n: $got"
done
expect_eq "messages: MAIL 6" "$MESSAGES_421" "$(reply_to messages 6 MAIL)"
expect_eof messages
expect_log "messages: the 421 in the log" \
  "stages=helo:ok,spf:pass,behaviour:too_many_messages/tempfail action=disconnect"

# 4. Recipients our stages refuse: SPF fail (decided at MAIL FROM, sent at every RCPT); after four
#    (limit 3) and an RSET, the next RCPT of a clean transaction gets the 421.
{ echo "MAIL FROM:<sender@spffail.example.net>"; mails 4 "RCPT TO:<user@example.org>"
  echo RSET; echo "MAIL FROM:<$SENDER>"; echo "RCPT TO:<user@example.org>"; echo QUIT; } \
  | dialogue rejected
got=$(reply_to rejected 4 RCPT)
[[ "$got" == "550 5.7.23 <sender@spffail.example.net>: Sender address rejected: SPF fail:"* ]] \
  && ok "rejected: RCPT 4 refused by spf ($got)" || bad "rejected: RCPT 4: $got"
expect_eq "rejected: RCPT 5" "$REJECTED_421" "$(reply_to rejected 5 RCPT)"
expect_eof rejected
expect_log "rejected: the 421 in the log" \
  "spf:pass,behaviour:too_many_rejected_recipients/tempfail action=tempfail reason=behaviour.too_many_rejected_recipients reply=\"${REJECTED_421#421 4.7.0 }\""

# 5. Recipients Postfix itself refuses (unknown users) never reach the milter and do not count.
{ echo "MAIL FROM:<$SENDER>"; for i in 1 2 3 4 5 6; do echo "RCPT TO:<nobody$i@example.org>"; done
  echo "RCPT TO:<user@example.org>"; echo QUIT; } | dialogue unknown
got=$(reply_to unknown 6 RCPT)
[[ "$got" == "550 5.1.1 <nobody6@example.org>: Recipient address rejected: User unknown"* ]] \
  && ok "unknown users: refused by Postfix ($got)" || bad "unknown users: RCPT 6: $got"
expect_eq "unknown users: not counted" "250 2.1.5 Ok" "$(reply_to unknown 7 RCPT)"

# 6. A bad HELO (helo non_fqdn, delayed to RCPT): refused at every RCPT, and the counting stages
#    still run while that rejection is held, so RCPT 5 (four refused, limit 3) gets the 421: a
#    client refused at HELO cannot harvest addresses without limit.
{ echo "MAIL FROM:<$SENDER>"; mails 5 "RCPT TO:<user@example.org>"; echo QUIT; } \
  | dialogue badhelo nofqdn
expect_eq "bad HELO: RCPT 4 the helo reply" \
  "504 5.5.2 <nofqdn>: Helo command rejected: need fully-qualified hostname" \
  "$(reply_to badhelo 4 RCPT)"
expect_eq "bad HELO: RCPT 5 the 421 despite the held rejection" "$REJECTED_421" \
  "$(reply_to badhelo 5 RCPT)"
expect_eof badhelo

# 7. HELO name changed within the session: warn (default): logged, nothing refused. The same name
#    again (as after STARTTLS) is not a change.
printf 'EHLO %s\nEHLO other.example.com\nMAIL FROM:<%s>\nRCPT TO:<user@example.org>\nQUIT\n' \
  "$CLIENT" "$SENDER" | dialogue helo-changed
expect_eq "helo changed: RCPT accepted (warn only)" "250 2.1.5 Ok" "$(reply_to helo-changed 1 RCPT)"
expect_log "helo changed: warning in the log" \
  "behaviour: reject_warning (helo_changed = warn): would reply: 550 5.7.1 <other.example.com>: Helo command rejected: HELO name changed within the session (was <$CLIENT>) (behaviour.helo_changed)"
expect_log "helo changed: the warning in the summary line" \
  "helo=<other.example.com> from=<$SENDER> to=<user@example.org> stages=helo:ok,helo:ok,helo:ok,behaviour:helo_changed/reject_warning,spf:pass action=abort"
printf 'EHLO %s\nMAIL FROM:<same@spfpass.example.net>\nRSET\nQUIT\n' "$CLIENT" | dialogue helo-same
expect_log "same HELO again: no warning" "from=<same@spfpass.example.net> stages=helo:ok,helo:ok,spf:pass action=abort"

# 8. Observe mode (policy reloaded with SIGHUP): the would-be 421 is logged, the MAIL accepted.
write_policy observe
kill -HUP "$MXGUARD_PID"
expect_log "observe: reloaded" "policy reloaded from $TB_DIR/policy.conf (3 stages)"
mails 4 "MAIL FROM:<$SENDER>" "RSET" | { cat; echo "MAIL FROM:<$SENDER>"; echo QUIT; } \
  | dialogue observe
expect_eq "observe: MAIL 5 accepted" "250 2.1.0 Ok" "$(reply_to observe 5 MAIL)"
expect_eq "observe: QUIT answered (not closed)" "221 2.0.0 Bye" "$(replies observe | tail -1)"
expect_log "observe: the would-be 421 logged" \
  "behaviour: tempfail_warning (observe mode): would reply: $RSETS_421 (behaviour.too_many_rsets)"

stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
