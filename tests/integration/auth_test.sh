#!/usr/bin/env bash
# auth_test.sh - spf and dkim through a real Postfix: an SPF-fail sender is refused at RCPT with
# the exact text (the domain's exp= quoted); messages signed with a key this test generates
# (dkimpy's dkimsign, an independent signer) are delivered with Authentication-Results and
# Received-SPF in the delivered copy, a forged Authentication-Results carrying our authserv-id is
# removed and a foreign one kept; a tampered body is reported as dkim=fail; the harness shows
# the same results for the message file.
# Must not: resolve anything but the testbed's nsd, or use keys from outside the test.
set -uo pipefail
MXGUARD=$1
CHECK=$2
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init
tb_require openssl dkimsign

# A 2048-bit key of our own, published as sel1._domainkey.spfpass.example.net (split into
# character-strings of at most 255 octets, as a zone file needs).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TB_DIR/dkim.key" 2>/dev/null
pub=$(openssl pkey -in "$TB_DIR/dkim.key" -pubout 2>/dev/null | grep -v '^-----' | tr -d '\n')
txt="v=DKIM1; k=rsa; p=$pub"
record="sel1._domainkey.spfpass  TXT "
for ((i = 0; i < ${#txt}; i += 250)); do record+=" \"${txt:i:250}\""; done
echo "$record" > "$TB_DIR/extra.zone"
export TB_EXTRA_RECORDS="$TB_DIR/extra.zone"
start_nsd || exit 1

printf '%s\n' "[engine]" "stages = spf dkim" "whitelist_clients =" \
  "authserv_id = mx.example.net" "[spf]" "timeout = 5s" \
  "[dkim]" "require_signature_from = required.example.net" > "$TB_DIR/policy.conf"
# Every transaction is recorded (with its header fields) for the replay at the end.
printf '%s\n' "[record]" "file = $TB_DIR/record.jsonl" "headers = yes" > "$TB_DIR/mxguard.conf"
MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" --config "$TB_DIR/mxguard.conf" || exit 1
start_postfix || exit 1

client=(--xclient-addr 192.0.2.10 --xclient-name mail.client.example.net
        --xclient-reverse-name mail.client.example.net --ehlo mail.client.example.net)
rcpt_reply() {  # the reply to RCPT TO in a swaks transcript
  awk '/^ -> RCPT TO/ {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' "$1"
}
data_reply() {  # the reply to the end of DATA
  awk '/^ -> \.$/ {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' "$1"
}

# 1. SPF fail: refused at RCPT, the domain's explanation quoted.
tb_swaks "${client[@]}" --from alice@spffail.example.net --to "user@$TB_MAIL_DOMAIN" \
  > "$TB_DIR/fail.swaks"
expect_eq "SPF fail at RCPT" \
  "550 5.7.23 <alice@spffail.example.net>: Sender address rejected: SPF fail: spffail.example.net does not designate 192.0.2.10 as a permitted sender; the domain says: 192.0.2.10 is not a mail server of spffail.example.net; see https://spffail.example.net/spf" \
  "$(rcpt_reply "$TB_DIR/fail.swaks")"
tb_wait_log "$MXGUARD_LOG" "from=<alice@spffail.example.net>" 5 | grep -q \
  "stages=spf:fail/delayed action=reject reason=spf.fail" \
  && ok "log: spf:fail/delayed reason=spf.fail" || bad "log line for the SPF fail: $(cat "$MXGUARD_LOG")"

# 2. SPF pass and a valid signature, with a forged and a foreign Authentication-Results.
make_message() {  # FILE SUBJECT-TAG
  printf '%s\r\n' \
    "Authentication-Results: mx.example.net; dkim=pass header.d=paypal.example" \
    "Authentication-Results: other.example.com; spf=pass smtp.mailfrom=x@y.example" \
    "From: Alice <alice@spfpass.example.net>" \
    "To: user@example.org" \
    "Subject: signed $2," \
    "  folded over two lines" \
    "Date: $(date -R)" \
    "Message-ID: <$2.$$@spfpass.example.net>" \
    "MIME-Version: 1.0" \
    "Content-Type: text/plain; charset=us-ascii" \
    "" \
    "Hello,  this body is signed." \
    "Second line with trailing spaces   " \
    "" > "$1"
}
sign() {  # IN OUT HCANON BCANON
  dkimsign --hcanon "$3" --bcanon "$4" sel1 spfpass.example.net "$TB_DIR/dkim.key" \
    < "$1" > "$2" || bad "dkimsign $1"
}
make_message "$TB_DIR/plain.eml" relaxed
sign "$TB_DIR/plain.eml" "$TB_DIR/relaxed.eml" relaxed relaxed
make_message "$TB_DIR/plain2.eml" simple
sign "$TB_DIR/plain2.eml" "$TB_DIR/simple.eml" simple simple
make_message "$TB_DIR/plain3.eml" tampered
sign "$TB_DIR/plain3.eml" "$TB_DIR/tampered.eml" relaxed relaxed
sed -i 's/this body is signed/this body was changed/' "$TB_DIR/tampered.eml"

check_delivered() {  # NAME FILE DKIM-RESULT
  local name=$1 file=$2 result=$3 got delivered ar spf
  tb_swaks "${client[@]}" --from alice@spfpass.example.net --to "user@$TB_MAIL_DOMAIN" \
    --data "$file" > "$TB_DIR/$name.swaks"
  got=$(data_reply "$TB_DIR/$name.swaks")
  [[ "$got" == "250 2.0.0 Ok: queued as "* ]] && ok "$name: accepted" || bad "$name: $got"
  if ! delivered=$(tb_wait_delivery user "signed $name," 10); then
    bad "$name: not delivered"
    return
  fi
  # The header section of the delivered copy, unfolded.
  awk '/^\r?$/ {exit} {print}' "$delivered" | tr -d '\r' |
    awk '/^[ \t]/ {sub(/^[ \t]+/, " "); line = line $0; next}
         {if (line != "") print line; line = $0} END {print line}' > "$TB_DIR/$name.headers"
  ar=$(grep -i '^Authentication-Results: mx.example.net;' "$TB_DIR/$name.headers")
  spf=$(grep -i '^Received-SPF:' "$TB_DIR/$name.headers")
  [[ $(grep -ci '^Authentication-Results: mx.example.net' "$TB_DIR/$name.headers") -eq 1 ]] \
    && ok "$name: one Authentication-Results of ours (the forged one removed)" \
    || bad "$name: $(grep -i '^Authentication-Results' "$TB_DIR/$name.headers")"
  [[ "$ar" == "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=alice@spfpass.example.net; dkim=$result "*"header.d=spfpass.example.net header.s=sel1"* ]] \
    && ok "$name: $ar" || bad "$name: Authentication-Results is '$ar'"
  [[ "$ar" != *paypal* ]] && ok "$name: the forged dkim=pass for paypal.example is gone" \
    || bad "$name: forged result still there"
  grep -q '^Authentication-Results: other.example.com; spf=pass' "$TB_DIR/$name.headers" \
    && ok "$name: the foreign Authentication-Results is kept" || bad "$name: foreign one lost"
  expect_eq "$name: Received-SPF" \
    "Received-SPF: pass (mx.example.net: domain of alice@spfpass.example.net designates 192.0.2.10 as permitted sender) client-ip=192.0.2.10; envelope-from=\"alice@spfpass.example.net\"; helo=\"mail.client.example.net\"; receiver=mx.example.net; identity=mailfrom;" \
    "$spf"
}
check_delivered relaxed "$TB_DIR/relaxed.eml" pass
# simple/simple needs the header values exactly as sent: SMFIP_HDR_LEADSPC.
check_delivered simple "$TB_DIR/simple.eml" pass
check_delivered tampered "$TB_DIR/tampered.eml" fail

# 3. A From domain that must sign: unsigned, then signed by another domain only.
required() {  # NAME SIGN(yes|no) WANT
  sed 's/^From: Alice <alice@spfpass.example.net>/From: Alice <alice@required.example.net>/' \
    "$TB_DIR/plain.eml" > "$TB_DIR/$1.eml"
  [[ $2 == yes ]] && { sign "$TB_DIR/$1.eml" "$TB_DIR/$1.signed" relaxed relaxed;
                       mv "$TB_DIR/$1.signed" "$TB_DIR/$1.eml"; }
  tb_swaks "${client[@]}" --from alice@spfpass.example.net --to "user@$TB_MAIL_DOMAIN" \
    --data "$TB_DIR/$1.eml" > "$TB_DIR/$1.swaks"
  expect_eq "$1" "$3" "$(data_reply "$TB_DIR/$1.swaks")"
}
required unsigned no \
  "550 5.7.20 Message rejected: no valid DKIM signature for required.example.net (RFC 7372; no signature)"
required othersigner yes \
  "550 5.7.22 Message rejected: no valid DKIM signature for required.example.net (RFC 7372; signature by spfpass.example.net only)"

# 4. The harness: the same results in its trace and the header changes it would make.
out=$("$CHECK" --policy "$TB_DIR/policy.conf" --dns "127.0.0.1@$NSD_PORT" --client-ip 192.0.2.10 \
      --helo mail.client.example.net --from alice@spfpass.example.net --rcpt user@example.org \
      --hostname mx.example.net --message "$TB_DIR/relaxed.eml")
rc=$?
[[ $rc -eq 0 ]] && ok "harness: accepted" || bad "harness: rc=$rc"
[[ "$out" == *"mail spf: pass (mailfrom alice@spfpass.example.net: pass (record \"v=spf1 ip4:192.0.2.10 -all\"))"* ]] \
  && ok "harness: spf trace" || bad "harness: spf trace missing: $out"
[[ "$out" == *"eom dkim: pass"*"d=spfpass.example.net s=sel1"* ]] \
  && ok "harness: dkim trace" || bad "harness: dkim trace missing: $out"
[[ "$out" == *"  - Authentication-Results #1"* && "$out" == *"  + Authentication-Results: mx.example.net;"* ]] \
  && ok "harness: header changes shown" || bad "harness: header changes: $out"

# 5. The recording and its replay: the same policy changes nothing; accepting SPF fails would
#    let exactly the one SPF-fail transaction through.
expect_eq "recorded: one line per transaction" 6 "$(grep -c '"client_address":"192.0.2.10"' "$TB_DIR/record.jsonl")"
grep -q '"headers":\[\["Authentication-Results"' "$TB_DIR/record.jsonl" \
  && ok "recorded: header fields included (headers = yes)" || bad "recorded: no header fields"
out=$("$CHECK" --policy "$TB_DIR/policy.conf" --dns "127.0.0.1@$NSD_PORT" --hostname mx.example.net \
      --replay "$TB_DIR/record.jsonl" 2>&1)
[[ "$out" == *"no verdict would change"*"unchanged: 6 (3 accepted, 3 rejected)"* ]] \
  && ok "replay: same policy, nothing changes" || bad "replay (same policy): $out"
sed 's/^timeout = 5s$/timeout = 5s\nfail = accept/' "$TB_DIR/policy.conf" > "$TB_DIR/lenient.conf"
out=$("$CHECK" --policy "$TB_DIR/lenient.conf" --policy "$TB_DIR/policy.conf" \
      --dns "127.0.0.1@$NSD_PORT" --hostname mx.example.net --replay "$TB_DIR/record.jsonl" 2>&1)
[[ "$out" == *"1 of 6 would now be accepted (they were rejected), by: spf.fail 1"* ]] \
  && ok "replay: fail = accept lets the SPF fail through" || bad "replay (lenient): $out"

stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
