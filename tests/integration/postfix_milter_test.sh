#!/usr/bin/env bash
# postfix_milter_test.sh - mxguard end to end behind a real Postfix: swaks presents test clients
# through XCLIENT, nsd serves their DNS, and each case asserts the exact reply swaks sees at RCPT,
# the mxguard log line, and (for accepted mail) the message in the Maildir.
# Must not: use any network beyond loopback, or leave a process or file behind (testbed traps EXIT).
set -uo pipefail
MXGUARD=${1:?usage: postfix_milter_test.sh MXGUARD MXGUARD-CHECK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"

tb_require python3 nsd nsd-checkconf dig swaks postfix postconf
[[ -x "$MXGUARD" ]] || { echo "FAIL: $MXGUARD is not executable"; exit 1; }
[[ $(id -u) -eq 0 ]] || tb_skip "a private Postfix instance needs root"
tb_init

start_nsd || { echo "FAIL: nsd did not start"; exit 1; }
start_mxguard "$MXGUARD" "$here/policies/integration.conf" || { echo "FAIL: mxguard did not start"; exit 1; }
start_postfix || { echo "FAIL: Postfix did not start"; exit 1; }
SENDER="sender@client.example.net"

# session FILE ADDR NAME REVERSE_NAME HELO [swaks args...]: one SMTP session through Postfix as
# the client ADDR whose verified name is NAME and whose PTR is REVERSE_NAME ([UNAVAILABLE] = none),
# the way Postfix would report it after its own DNS lookups. Without NAME, Postfix would keep the
# name of the real (loopback) client. swaks sends EHLO again after XCLIENT: that second EHLO (HELO)
# is what the milter sees.
session() {
  local file=$1 addr=$2 name=$3 rname=$4 helo=$5
  shift 5
  tb_swaks --xclient-addr "$addr" --xclient-name "$name" --xclient-reverse-name "$rname" \
    --ehlo "$helo" --from "$SENDER" "$@" > "$TB_DIR/$file.swaks"
}

# rcpt_replies FILE: each reply to RCPT TO in a transcript, one per line (multi-line replies joined
# with " | "), without swaks's "<** " / "<-  " prefix.
rcpt_replies() {
  awk '/^ -> RCPT TO:/ { want = 1; text = ""; next }
       want && /^<(\*\*|-) / {
         line = $0; sub(/^<(\*\*|-) +/, "", line)
         text = text (text == "" ? "" : " | ") line
         if (substr(line, 4, 1) != "-") { print text; want = 0 }
       }' "$TB_DIR/$1.swaks"
}

# expect_rcpt FILE EXPECTED [N]: the Nth (default 1st) RCPT reply is exactly EXPECTED.
expect_rcpt() {
  local file=$1 expected=$2 n=${3:-1} got
  got=$(rcpt_replies "$file" | sed -n "${n}p")
  if [[ "$got" == "$expected" ]]; then ok "$file: RCPT reply '$expected'"
  else bad "$file: RCPT reply: expected '$expected', got '$got' (transcript: $TB_DIR/$file.swaks)"; fi
}

# queue_id FILE: the queue id from Postfix's "250 2.0.0 Ok: queued as ID".
queue_id() { sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p' "$TB_DIR/$1.swaks"; }

# expect_log FILE-LABEL REGEX: a line of the mxguard log matches REGEX (grep -E), within 5 s
# (the transaction line is written when Postfix aborts or closes the milter session).
expect_log() {
  local label=$1 regex=$2 i
  for ((i = 0; i < 100; i++)); do
    if grep -qE -- "$regex" "$MXGUARD_LOG"; then ok "$label: mxguard log matches /$regex/"; return; fi
    sleep 0.05
  done
  bad "$label: no mxguard log line matches /$regex/; log:"
  sed 's/^/    /' "$MXGUARD_LOG" | tail -20
}

expect_delivered() {
  local label=$1 box=$2 subject=$3 f
  if f=$(tb_wait_delivery "$box" "Subject: $subject" 10); then ok "$label: delivered to $box@$TB_MAIL_DOMAIN ($(basename "$f"))"
  else bad "$label: no message with 'Subject: $subject' in $box's Maildir; Postfix log:"; tail -5 "$POSTFIX_LOG" | sed 's/^/    /'; fi
}

expect_not_delivered() {
  local label=$1 box=$2 subject=$3
  if grep -lqsF "Subject: $subject" "$POSTFIX_MAILDIR_BASE/$box/new/"* 2>/dev/null; then
    bad "$label: a message with 'Subject: $subject' reached $box"
  else ok "$label: nothing delivered to $box"; fi
}

re() { printf '%s' "$1" | sed 's/[][\.*^$?+(){}|/]/\\&/g'; }  # literal text as an ERE

LISTED_REPLY="554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using dnsbl.example.net; Listed for spam, see https://dnsbl.example.net/lookup?ip=192.0.2.2"

# run_client_cases TAG: the client-identity cases (run once with Postfix's default milter macros
# and once with {client_addr} {client_name} {client_ptr} added).
run_client_cases() {
  local tag=$1 qid
  # 1. RBL: listed client, PTR confirmed, good HELO -> rejected at RCPT with the DNSBL's TXT.
  session "$tag-rbl-listed" 192.0.2.2 listed.example.net listed.example.net listed.example.net \
    --to "user@$TB_MAIL_DOMAIN" --header "Subject: $tag rbl listed"
  expect_rcpt "$tag-rbl-listed" "$LISTED_REPLY"
  expect_log "$tag-rbl-listed" \
    "NOQUEUE: client=listed\.example\.net\[192\.0\.2\.2\] helo=<listed\.example\.net> from=<$(re "$SENDER")> rejected=<user@example\.org> 554 5\.7\.1 stages=.*rbl:listed.* action=reject"
  expect_log "$tag-rbl-listed (reply in log)" "action=reject reason=rbl\.listed reply=\"$(re "${LISTED_REPLY#554 5.7.1 }")\""
  expect_not_delivered "$tag-rbl-listed" user "$tag rbl listed"
  if grep -qF "milter-reject: RCPT from listed.example.net[192.0.2.2]: $LISTED_REPLY;" "$POSTFIX_LOG"; then
    ok "$tag-rbl-listed: Postfix logged the milter-reject with the same text"
  else bad "$tag-rbl-listed: Postfix log lacks the milter-reject line"; fi

  # 2. The same client may still write to postmaster@ (exempt) and the message is delivered.
  session "$tag-rbl-postmaster" 192.0.2.2 listed.example.net listed.example.net listed.example.net \
    --to "postmaster@$TB_MAIL_DOMAIN" --header "Subject: $tag rbl postmaster"
  expect_rcpt "$tag-rbl-postmaster" "250 2.1.5 Ok"
  expect_delivered "$tag-rbl-postmaster" postmaster "$tag rbl postmaster"
  qid=$(queue_id "$tag-rbl-postmaster")
  expect_log "$tag-rbl-postmaster" "${qid:-NO-QUEUE-ID}: client=listed\.example\.net\[192\.0\.2\.2\] .*to=<postmaster@example\.org>.* action=accept"

  # 3. One transaction, two recipients: user@ refused, postmaster@ accepted and delivered.
  session "$tag-rbl-two-rcpts" 192.0.2.2 listed.example.net listed.example.net listed.example.net \
    --to "user@$TB_MAIL_DOMAIN,postmaster@$TB_MAIL_DOMAIN" --header "Subject: $tag rbl two rcpts"
  expect_rcpt "$tag-rbl-two-rcpts" "$LISTED_REPLY" 1
  expect_rcpt "$tag-rbl-two-rcpts" "250 2.1.5 Ok" 2
  expect_delivered "$tag-rbl-two-rcpts" postmaster "$tag rbl two rcpts"
  expect_not_delivered "$tag-rbl-two-rcpts" user "$tag rbl two rcpts"

  # 4. Clean client: accepted and delivered; the log line carries Postfix's queue id.
  session "$tag-clean" 192.0.2.10 mail.client.example.net mail.client.example.net mail.client.example.net \
    --to "user@$TB_MAIL_DOMAIN" --header "Subject: $tag clean client"
  expect_rcpt "$tag-clean" "250 2.1.5 Ok"
  expect_delivered "$tag-clean" user "$tag clean client"
  qid=$(queue_id "$tag-clean")
  if [[ -n "$qid" ]]; then ok "$tag-clean: queued as $qid"; else bad "$tag-clean: no 'queued as' in the transcript"; fi
  expect_log "$tag-clean" "${qid:-NO-QUEUE-ID}: client=mail\.client\.example\.net\[192\.0\.2\.10\] helo=<mail\.client\.example\.net> from=<$(re "$SENDER")> to=<user@example\.org> stages=.* action=accept"

  # 5. No PTR at all.
  session "$tag-no-ptr" 192.0.2.20 '[UNAVAILABLE]' '[UNAVAILABLE]' host20.example.net \
    --to "user@$TB_MAIL_DOMAIN" --header "Subject: $tag no ptr"
  expect_rcpt "$tag-no-ptr" "550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.20]"
  expect_log "$tag-no-ptr" "NOQUEUE: client=unknown\[192\.0\.2\.20\] .*rdns:no_ptr.* action=reject"

  # 6. PTR that does not resolve back (Postfix: name unknown, reverse name forged.example.net).
  session "$tag-not-confirmed" 192.0.2.21 '[UNAVAILABLE]' forged.example.net forged.example.net \
    --to "user@$TB_MAIL_DOMAIN" --header "Subject: $tag not confirmed"
  expect_rcpt "$tag-not-confirmed" \
    "550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.21] (forged.example.net does not resolve to that address)"
  expect_log "$tag-not-confirmed" "NOQUEUE: client=unknown\[192\.0\.2\.21\] .*rdns:not_confirmed.* action=reject"

  # 7. Listed in the DNSBL (weight 1) and the DNSWL (weight -2): below the threshold, accepted.
  session "$tag-dnswl" 192.0.2.30 partner.example.net partner.example.net partner.example.net \
    --to "user@$TB_MAIL_DOMAIN" --header "Subject: $tag dnswl"
  expect_rcpt "$tag-dnswl" "250 2.1.5 Ok"
  expect_delivered "$tag-dnswl" user "$tag dnswl"

  # 8. A DNSBL answer outside the zone's filter (127.255.255.254, "query refused") is no listing.
  session "$tag-rbl-refused-answer" 192.0.2.40 refused.example.net refused.example.net refused.example.net \
    --to "user@$TB_MAIL_DOMAIN" --header "Subject: $tag refused answer"
  expect_rcpt "$tag-rbl-refused-answer" "250 2.1.5 Ok"
  expect_delivered "$tag-rbl-refused-answer" user "$tag refused answer"

  # 9. IPv6 client with a confirmed PTR (Postfix reports {client_addr} as "IPv6:2001:db8::10").
  if [[ "$(postconf -c "$POSTFIX_CONF" -h inet_protocols)" == *all* ]]; then
    session "$tag-ipv6" IPV6:2001:db8::10 mail6.client.example.net mail6.client.example.net mail6.client.example.net \
      --to "user@$TB_MAIL_DOMAIN" --header "Subject: $tag ipv6"
    expect_rcpt "$tag-ipv6" "250 2.1.5 Ok"
    expect_delivered "$tag-ipv6" user "$tag ipv6"
    expect_log "$tag-ipv6" ": client=mail6\.client\.example\.net\[2001:db8::10\] .*action=accept"
  else
    echo "skip: $tag-ipv6 (no IPv6 on this host)"
  fi
}

run_client_cases default-macros

# A '%' in outside text (the DNSBL's TXT) reaches the client as one '%': libmilter and Postfix
# treat reply text as a format string, so the adapter doubles it and Postfix undoes that.
session rbl-percent 192.0.2.3 percent.example.net percent.example.net percent.example.net \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: rbl percent"
expect_rcpt rbl-percent \
  "554 5.7.1 Service unavailable; Client host [192.0.2.3] blocked using dnsbl.example.net; Listed: 100% spam source"

# A hostile TXT reason: '%' survives (doubled for the milter protocol, undoubled by Postfix),
# CR/LF become '?', and 600 characters become a three-line reply of at most 512 octets a line.
session rbl-hostile-txt 192.0.2.5 '[UNAVAILABLE]' '[UNAVAILABLE]' hostile.example.net \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: rbl hostile txt"
expect_rcpt rbl-hostile-txt "554-5.7.1 Service unavailable; Client host [192.0.2.5] blocked using dnsbl.example.net; evil %s %n??RCPT TO:<x> | 554-5.7.1 $(printf "x%.0s" {1..250})$(printf "y%.0s" {1..250}) | 554 5.7.1 $(printf "z%.0s" {1..60})"
# 510 octets + CRLF = 512 (RFC 5321 4.5.3.1.5); swaks's "<** " prefix is not part of the line.
long_lines=$(awk '/^<(\*\*|-) / { l = $0; sub(/^<(\*\*|-) +/, "", l); if (length(l) > 510) n++ } END { print n + 0 }' "$TB_DIR/rbl-hostile-txt.swaks")
[[ $long_lines -eq 0 ]] && ok "rbl-hostile-txt: no reply line over 512 octets" || bad "rbl-hostile-txt: $long_lines lines over 512 octets"

# HELO checks, from the clean client (its PTR confirms, it is not listed).
helo_case() {
  local file=$1 helo=$2 expected=$3
  session "$file" 192.0.2.10 mail.client.example.net mail.client.example.net "$helo" \
    --to "user@$TB_MAIL_DOMAIN" --header "Subject: $file"
  expect_rcpt "$file" "$expected"
}
helo_case helo-invalid bad_name.example.net \
  "501 5.5.2 <bad_name.example.net>: Helo command rejected: Invalid name (character '_' is not allowed in a host name)"
expect_log helo-invalid "NOQUEUE: client=mail\.client\.example\.net\[192\.0\.2\.10\] helo=<bad_name\.example\.net> .*helo:.* action=reject"
helo_case helo-non-fqdn localhost \
  "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"
helo_case helo-bare-ip 192.0.2.10 \
  "501 5.5.2 <192.0.2.10>: Helo command rejected: Invalid name (an IP address must be written as an address literal: [192.0.2.10])"
helo_case helo-literal-mismatch '[192.0.2.99]' \
  "550 5.7.1 <[192.0.2.99]>: Helo command rejected: address literal does not match your address [192.0.2.10]"
helo_case helo-forged mx.example.net \
  "550 5.7.1 <mx.example.net>: Helo command rejected: you are not mx.example.net; send your own host name"
# The matching address literal is fine.
helo_case helo-literal-match '[192.0.2.10]' "250 2.1.5 Ok"
expect_delivered helo-literal-match user helo-literal-match

# Postfix must not have had any trouble talking to the milter.
if grep -E "warning: milter|milter.*(timeout|can't read|unexpected)" "$POSTFIX_LOG" > "$TB_DIR/milter-warnings"; then
  bad "Postfix logged milter warnings:"; sed 's/^/    /' "$TB_DIR/milter-warnings" | head -10
else ok "Postfix logged no milter warnings"; fi

# Again with the client macros Postfix sends when asked (milter_connect_macros): the adapter then
# reads {client_addr} (IPv6 with the "IPv6:" prefix), {client_name} and {client_ptr} ("unknown"
# when there is no PTR) instead of the connect arguments; the outcome must be the same.
stop_postfix
start_postfix "milter_connect_macros = j {daemon_name} {daemon_addr} v _ {client_addr} {client_name} {client_ptr}" \
  || { echo "FAIL: Postfix did not restart"; exit 1; }
run_client_cases client-macros

# The daemon stops on SIGTERM, cleanly, and Postfix then tempfails (milter_default_action).
start=$(date +%s%N)
stop_mxguard
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [[ $rc -eq 0 ]]; then ok "mxguard exited 0 on SIGTERM after $ms ms, no sanitizer report"
else bad "mxguard stop: exit status $rc after $ms ms; log tail:"; tail -20 "$MXGUARD_LOG" | sed 's/^/    /'; fi
session daemon-down 192.0.2.10 mail.client.example.net mail.client.example.net mail.client.example.net \
  --to "user@$TB_MAIL_DOMAIN" --header "Subject: daemon down"
if grep -qE '^<\*\* 451 4\.7\.1 Service unavailable - try again later' "$TB_DIR/daemon-down.swaks"; then
  ok "daemon down: Postfix answers 451 4.7.1 (milter_default_action = tempfail)"
else bad "daemon down: expected a 451 4.7.1 reply; transcript:"; sed 's/^/    /' "$TB_DIR/daemon-down.swaks" | tail -8; fi
expect_not_delivered daemon-down user "daemon down"

tb_summary
