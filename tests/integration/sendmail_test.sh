#!/usr/bin/env bash
# sendmail_test.sh - mxguard end to end behind a real Sendmail (Debian's sendmail-bin, unpacked by
# contrib/install-deps.sh --test, configured from contrib/sendmail/mxguard.mc): the same client
# cases and exact RCPT replies as postfix_milter_test.sh, a clean message delivered with the
# headers mxguard adds, and Sendmail's F=T tempfail when mxguard is down.
# Must not: download or install anything (a missing unpacked Sendmail is SKIP, exit 77), use any
# network beyond its own namespace's loopback, or leave a process or file behind.
#
# How Sendmail runs, and why: sendmail-bin conflicts with the postfix package CI has installed, so
# the test runs the binary from its unpacked package tree, as root, with a sendmail.cf that m4
# builds from the package's own cf/ macros and the shipped mxguard.mc. Sendmail has no XCLIENT:
# mxguard sees the TCP peer's real address. So the whole test re-runs itself in private network,
# mount and UTS namespaces (unshare; tests/testbed/sendmail.sh): 192.0.2.x live on that lo, swaks
# binds to them (--local-interface), Sendmail resolves their PTRs itself through a private
# /etc/resolv.conf pointing at a second nsd (the testbed's zones) on the namespace's port 53, and
# the host name is mx.example.net. Nothing outside the namespaces changes; they vanish with the
# test's last process (nothing named to delete, even after a kill -9).
set -uo pipefail
MXGUARD=${1:?usage: sendmail_test.sh MXGUARD MXGUARD-CHECK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"
# shellcheck source=tests/testbed/sendmail.sh
source "$here/../testbed/sendmail.sh"

tb_require python3 nsd nsd-checkconf dig swaks m4 unshare ip
[[ -x "$MXGUARD" ]] || { echo "FAIL: $MXGUARD is not executable"; exit 1; }
MXGUARD=$(readlink -f "$MXGUARD")
sm_enter_namespace "$@"  # from here on: inside the namespaces
tb_init

# integration.conf (the Postfix test's policy, replies untouched) plus spf, so that a clean
# message gets headers (Received-SPF, Authentication-Results) inserted through Sendmail.
sed 's/^stages = .*/stages = rbl helo rdns spf/; s/^\[engine\]$/[engine]\nauthserv_id = mx.example.net/' \
  "$here/policies/integration.conf" > "$TB_DIR/policy.conf"
printf '\n[spf]\nmode = enforce\ntimeout = 5s\n' >> "$TB_DIR/policy.conf"

NSD_PORT=53  # the C library's resolver (Sendmail's own lookups) can only ask port 53
start_nsd || { echo "FAIL: nsd did not start"; exit 1; }
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" || { echo "FAIL: mxguard did not start"; exit 1; }
start_sendmail || { echo "FAIL: Sendmail did not start"; exit 1; }
SENDER="sender@client.example.net"

# session FILE ADDR HELO [swaks args...]: one SMTP session to Sendmail from local address ADDR.
session() {
  local file=$1 addr=$2 helo=$3
  shift 3
  sm_swaks "$addr" --ehlo "$helo" "$@" > "$TB_DIR/$file.swaks"
}

# rcpt_replies FILE: each reply to RCPT TO, one per line (multi-line joined with " | ").
rcpt_replies() {
  awk '/^ -> RCPT TO:/ { want = 1; text = ""; next }
       want && /^<(\*\*|-) / {
         line = $0; sub(/^<(\*\*|-) +/, "", line)
         text = text (text == "" ? "" : " | ") line
         if (substr(line, 4, 1) != "-") { print text; want = 0 }
       }' "$TB_DIR/$1.swaks"
}

expect_rcpt() {
  local file=$1 expected=$2 n=${3:-1} got
  got=$(rcpt_replies "$file" | sed -n "${n}p")
  if [[ "$got" == "$expected" ]]; then ok "$file: RCPT reply '$expected'"
  else bad "$file: RCPT reply: expected '$expected', got '$got' (transcript: $TB_DIR/$file.swaks)"; fi
}

# queue_id FILE: from Sendmail's "250 2.0.0 ID Message accepted for delivery".
queue_id() { sed -n 's/^<-  250 2\.0\.0 \([0-9A-Za-z]*\) Message accepted for delivery.*/\1/p' "$TB_DIR/$1.swaks"; }

expect_log() {
  local label=$1 regex=$2 i
  for ((i = 0; i < 100; i++)); do
    if grep -qE -- "$regex" "$MXGUARD_LOG"; then ok "$label: mxguard log matches /$regex/"; return; fi
    sleep 0.05
  done
  bad "$label: no mxguard log line matches /$regex/; log:"
  sed 's/^/    /' "$MXGUARD_LOG" | tail -20
}

# message_of BOX SUBJECT: the delivered message (headers and body) with that subject, from the mbox.
message_of() {
  awk -v s="Subject: $2" '/^From / { if (found) exit; msg = "" } { msg = msg $0 "\n" }
       $0 == s { found = 1 } END { if (found) printf "%s", msg }' "$SENDMAIL_MAIL/$1" 2>/dev/null
}

expect_delivered() {
  local label=$1 box=$2 subject=$3
  if sm_wait_delivery "$box" "Subject: $subject" 10; then ok "$label: delivered to $box@$TB_MAIL_DOMAIN"
  else bad "$label: no message with 'Subject: $subject' in $box's mbox; Sendmail transcript:"
    tail -8 "$TB_DIR/$label.swaks" | sed 's/^/    /'; fi
}

expect_not_delivered() {
  local label=$1 box=$2 subject=$3
  if grep -qsF "Subject: $subject" "$SENDMAIL_MAIL/$box"; then
    bad "$label: a message with 'Subject: $subject' reached $box"
  else ok "$label: nothing delivered to $box"; fi
}

re() { printf '%s' "$1" | sed 's/[][\.*^$?+(){}|/]/\\&/g'; }  # literal text as an ERE

# Sendmail's own wording where mxguard does not decide (Postfix: "250 2.1.5 Ok").
rcpt_ok() { echo "250 2.1.5 <$1>... Recipient ok"; }

LISTED_REPLY="554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using dnsbl.example.net; Listed for spam, see https://dnsbl.example.net/lookup?ip=192.0.2.2"

# 1. RBL: listed client (Sendmail's own PTR lookup finds listed.example.net, which confirms).
session rbl-listed 192.0.2.2 listed.example.net --from "$SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: rbl listed"
expect_rcpt rbl-listed "$LISTED_REPLY"
# Sendmail gives the queue id at MAIL FROM (Postfix only after a valid RCPT: NOQUEUE there).
expect_log rbl-listed \
  ": client=listed\.example\.net\[192\.0\.2\.2\] helo=<listed\.example\.net> from=<$(re "$SENDER")> rejected=<user@example\.org> 554 5\.7\.1 stages=.*rbl:listed.* action=reject"
expect_not_delivered rbl-listed user "rbl listed"

# The same client may still write to postmaster@ (exempt).
session rbl-postmaster 192.0.2.2 listed.example.net --from "$SENDER" \
  --to "postmaster@$TB_MAIL_DOMAIN" --header "Subject: rbl postmaster"
expect_rcpt rbl-postmaster "$(rcpt_ok "postmaster@$TB_MAIL_DOMAIN")"
expect_delivered rbl-postmaster postmaster "rbl postmaster"

# '%' in the TXT reaches the client as one '%' (the adapter doubles it, Sendmail undoes that).
session rbl-percent 192.0.2.3 percent.example.net --from "$SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: rbl percent"
expect_rcpt rbl-percent \
  "554 5.7.1 Service unavailable; Client host [192.0.2.3] blocked using dnsbl.example.net; Listed: 100% spam source"

# Multi-line reply (smfi_setmlreply): the same three lines as through Postfix.
session rbl-hostile-txt 192.0.2.5 hostile.example.net --from "$SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: rbl hostile txt"
expect_rcpt rbl-hostile-txt "554-5.7.1 Service unavailable; Client host [192.0.2.5] blocked using dnsbl.example.net; evil %s %n??RCPT TO:<x> | 554-5.7.1 $(printf "x%.0s" {1..250})$(printf "y%.0s" {1..250}) | 554 5.7.1 $(printf "z%.0s" {1..60})"

# 2. Bad HELO from the clean client: invalid character, and not fully qualified.
session helo-invalid 192.0.2.10 bad_name.example.net --from "$SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: helo-invalid"
expect_rcpt helo-invalid \
  "501 5.5.2 <bad_name.example.net>: Helo command rejected: Invalid name (character '_' is not allowed in a host name)"
expect_log helo-invalid ": client=mail\.client\.example\.net\[192\.0\.2\.10\] helo=<bad_name\.example\.net> .*helo:.* action=reject"
session helo-non-fqdn 192.0.2.10 localhost --from "$SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: helo-non-fqdn"
expect_rcpt helo-non-fqdn "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"

# Reverse DNS as Sendmail resolves it. No PTR: {client_name} "[192.0.2.20]", {client_resolve}
# FAIL; a PTR that does not resolve back: {client_name} "[192.0.2.21]", {client_ptr}
# forged.example.net, {client_resolve} FORGED. The adapter's rule for a bracketed name gives
# "unknown", as with Postfix. Sendmail's own difference: for a 450/550/553 reply at RCPT it puts
# "<recipient>... " after the enhanced code (its fmtmsg(); 5xx codes other than 550/553, e.g. the
# 554/501/504 above, pass unchanged); the text after it is byte for byte Postfix's.
session no-ptr 192.0.2.20 host20.example.net --from "$SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: no ptr"
expect_rcpt no-ptr "550 5.7.25 <user@$TB_MAIL_DOMAIN>... Client host rejected: cannot find your hostname, [192.0.2.20]"
expect_log no-ptr ": client=unknown\[192\.0\.2\.20\] .*rdns:no_ptr.* action=reject"
session not-confirmed 192.0.2.21 forged.example.net --from "$SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: not confirmed"
expect_rcpt not-confirmed \
  "550 5.7.25 <user@$TB_MAIL_DOMAIN>... Client host rejected: cannot find your hostname, [192.0.2.21] (forged.example.net does not resolve to that address)"
expect_log not-confirmed ": client=unknown\[192\.0\.2\.21\] .*rdns:not_confirmed.* action=reject"

# 3. Clean client, SPF-pass sender: delivered, with mxguard's headers (inserted at the top, one
# space after the colon: SMFIP_HDR_LEADSPC is negotiated with Sendmail too).
CLEAN_SENDER="sender@spfpass.example.net"
session clean 192.0.2.10 mail.client.example.net --from "$CLEAN_SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: clean client"
expect_rcpt clean "$(rcpt_ok "user@$TB_MAIL_DOMAIN")"
expect_delivered clean user "clean client"
qid=$(queue_id clean)
if [[ -n "$qid" ]]; then ok "clean: queued as $qid"; else bad "clean: no 'Message accepted for delivery' in the transcript"; fi
expect_log clean "${qid:-NO-QUEUE-ID}: client=mail\.client\.example\.net\[192\.0\.2\.10\] helo=<mail\.client\.example\.net> from=<$(re "$CLEAN_SENDER")> to=<user@example\.org> stages=.* action=accept"
msg=$(message_of user "clean client")
header_line() { printf '%s\n' "$msg" | grep -m1 -E "^$1:" ; }
got=$(header_line Received-SPF)
if [[ "$got" == "Received-SPF: pass (mx.example.net: domain of $CLEAN_SENDER designates 192.0.2.10 as permitted sender)"* ]]; then
  ok "clean: delivered with '$got'"
else bad "clean: Received-SPF header: got '$got'"; fi
# A value with "\n\t" inside (folded by mxguard) stays one folded field.
if printf '%s\n' "$msg" | grep -qxF "	client-ip=192.0.2.10; envelope-from=\"$CLEAN_SENDER\"; helo=\"mail.client.example.net\"; receiver=mx.example.net; identity=mailfrom;"; then
  ok "clean: Received-SPF's folded second line intact"
else bad "clean: Received-SPF's folded second line missing"; fi
got=$(header_line Authentication-Results)
if [[ "$got" == "Authentication-Results: mx.example.net;"* ]] \
  && printf '%s\n' "$msg" | grep -qxF "	spf=pass smtp.mailfrom=$CLEAN_SENDER"; then
  ok "clean: delivered with '$got' (spf=pass)"
else bad "clean: Authentication-Results header: got '$got'"; fi
# The connection's iprev (rdns stage, RFC 8601 2.7.3) comes first: 192.0.2.10 is forward-confirmed.
if printf '%s\n' "$msg" | grep -qxF "	iprev=pass (mail.client.example.net) policy.iprev=192.0.2.10;"; then
  ok "clean: Authentication-Results carries iprev=pass"
else bad "clean: no iprev=pass line in: $(printf '%s\n' "$msg" | sed -n '/^Authentication-Results/,/spf=/p')"; fi
# Inserted at index 0: above Sendmail's own Received: line.
first=$(printf '%s\n' "$msg" | sed -n '2p' | cut -d: -f1)
if [[ "$first" == "Authentication-Results" || "$first" == "Received-SPF" ]]; then ok "clean: mxguard's headers come first ($first)"
else bad "clean: first header after the From_ line is '$first'"; fi

# mxguard asked for ADDHDRS|CHGHDRS|QUARANTINE and SMFIP_HDR_LEADSPC, and Sendmail agreed.
# pflags: SMFIP_HDR_LEADSPC 0x100000, SMFIP_NR_BODY 0x80000, SMFIP_NR_HDR 0x80 (header fields and
# body chunks go unanswered). Not SMFIP_NR_DATA 0x10000: the milter listens on TCP here, where
# DATA stays answered (src/milter/milter_adapter.h, setUnansweredData).
if grep -qF "milter_negotiate(mxguard): received: version 6, fflags 0x31, pflags 0x180080" "$SENDMAIL_OUT"; then
  ok "Sendmail negotiated fflags 0x31, SMFIP_HDR_LEADSPC and no replies to headers and body (pflags 0x180080, DATA answered over TCP) with mxguard"
else bad "negotiation: $(grep -m1 'milter_negotiate(mxguard): received' "$SENDMAIL_OUT")"; fi

# Sendmail must not have had trouble talking to the milter.
if grep -E "Milter \(mxguard\): .*(error|timeout|to error state)|milter_read|Milter: .*error" "$SENDMAIL_OUT" > "$TB_DIR/milter-warnings"; then
  bad "Sendmail reported milter errors:"; sed 's/^/    /' "$TB_DIR/milter-warnings" | head -10
else ok "Sendmail reported no milter errors"; fi

# mxguard stops cleanly on SIGTERM; Sendmail then tempfails (F=T) rather than accept or reject.
stop_mxguard
rc=$?
if [[ $rc -eq 0 ]]; then ok "mxguard exited 0 on SIGTERM, no sanitizer report"
else bad "mxguard stop: exit status $rc; log tail:"; tail -20 "$MXGUARD_LOG" | sed 's/^/    /'; fi
session daemon-down 192.0.2.10 mail.client.example.net --from "$SENDER" \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: daemon down"
if grep -qE '^<\*\* 4[0-9][0-9] 4\.' "$TB_DIR/daemon-down.swaks"; then
  ok "daemon down: Sendmail answers $(grep -m1 -E '^<\*\* 4' "$TB_DIR/daemon-down.swaks" | sed 's/^<\*\* //') (F=T)"
else bad "daemon down: expected a 4xx reply; transcript:"; sed 's/^/    /' "$TB_DIR/daemon-down.swaks" | tail -8; fi
expect_not_delivered daemon-down user "daemon down"

tb_summary
