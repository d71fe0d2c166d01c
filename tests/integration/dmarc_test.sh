#!/usr/bin/env bash
# dmarc_test.sh - the dmarc stage against real DNS (nsd serving a zone of sender organisations
# written here, keys from tests/fixtures/dkim) and real signatures (dkimpy's dkimsign): a scenario
# table from RFC 7489 sections 3, 6.3 and 6.6 run through the harness with the exact reply or
# Authentication-Results field of each; a policy lookup SERVFAIL (slow_dns.py) under both
# on_failure settings; then through a real Postfix: a p=reject spoof refused at end of DATA with
# the exact text, a p=none failure delivered with dmarc=fail, a trusted forwarder delivered.
# p=quarantine: delivered with a header, or (quarantine_with = hold) on Postfix's hold queue;
# the aggregate reports of the recorded run valid against RFC 7489 appendix C's schema.
# Must not: resolve anything but this test's own servers.
set -uo pipefail
MXGUARD=$1
CHECK=$2
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init
tb_require dkimsign python3 xmllint

key=$(cat "$here/fixtures/dkim/rsa2048.txt")
keyrr() {  # NAME: the fixture key published at sel1._domainkey.NAME (250-octet strings)
  local out="sel1._domainkey.$1 TXT" i
  for ((i = 0; i < ${#key}; i += 250)); do out+=" \"${key:i:250}\""; done
  echo "$out"
}
# Each sender organisation is a domain directly under "example" (no public suffix rule: every
# name there is an organisational domain of its own, so relaxed alignment stays inside one).
cat > "$TB_DIR/example.zone" <<ZONE
\$ORIGIN example.
\$TTL 300
@ SOA ns.example.net. hostmaster.example.net. 1 3600 600 86400 60
@ NS ns.example.net.
reject TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.reject TXT "v=DMARC1; p=reject"
$(keyrr reject)
mail.reject TXT "v=spf1 ip4:192.0.2.10 -all"
$(keyrr mail.reject)
strict TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.strict TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
mail.strict TXT "v=spf1 ip4:192.0.2.10 -all"
$(keyrr mail.strict)
other TXT "v=spf1 ip4:192.0.2.10 -all"
$(keyrr other)
_dmarc.quarantine TXT "v=DMARC1; p=quarantine"
_dmarc.none TXT "v=DMARC1; p=none; rua=mailto:dmarc@none.example"
_dmarc.pct0 TXT "v=DMARC1; p=reject; pct=0"
_dmarc.pct50 TXT "v=DMARC1; p=reject; pct=50"
_dmarc.pct100 TXT "v=DMARC1; p=reject; pct=100"
_dmarc.multi TXT "v=DMARC1; p=reject"
_dmarc.multi TXT "v=DMARC1; p=none"
_dmarc.broken TXT "v=DMARC1; p=bogus"
_dmarc.nop TXT "v=DMARC1; rua=mailto:dmarc@nop.example"
_dmarc.orgfb TXT "v=DMARC1; p=none; sp=reject"
ZONE
export TB_EXTRA_ZONES="example=$TB_DIR/example.zone"
start_nsd || exit 1

policy() {  # FILE [extra [dmarc] lines...]
  local file=$1
  shift
  printf '%s\n' "[engine]" "stages = spf dkim dmarc" "whitelist_clients =" \
    "authserv_id = mx.example.net" "[dmarc]" "$@" > "$file"
}
policy "$TB_DIR/policy.conf" "on_failure = accept" "pct_seed = mxguard-test"

# message FILE FROM MESSAGE-ID [SIGNER-DOMAIN|-] [tamper]
message() {
  local file=$1 from=$2 id=$3 signer=${4:--} tamper=${5:-}
  printf '%s\r\n' "From: $from" "To: user@example.org" "Subject: dmarc $id" "Message-ID: $id" \
    "Date: Sun, 06 Dec 2026 10:00:00 +0000" "" "dmarc test $id" > "$file.raw"
  if [[ "$signer" == - ]]; then
    mv "$file.raw" "$file"
  else
    dkimsign --hcanon relaxed --bcanon relaxed sel1 "$signer" "$here/fixtures/dkim/rsa2048.pem" \
      < "$file.raw" > "$file" || bad "dkimsign $id"
  fi
  [[ -n "$tamper" ]] && sed -i 's/^dmarc test/dmarc changed/' "$file"
  return 0
}

harness() {  # POLICY DNS SENDER FILE: the harness transcript
  "$CHECK" --policy "$1" --dns "$2" --client-ip 192.0.2.10 --helo mail.client.example.net \
    --from "$3" --rcpt user@example.org --hostname mx.example.net --message "$4" 2>&1
}
eom_reply() { awk '/^>>> \(end of data\)/ {w=1; next} w && /^<<< / {sub(/^<<< /, ""); print; exit}'; }
dmarc_ar() { grep -o 'dmarc=.*' | head -1; }

reject_text() {  # FROM-DOMAIN POLICY EVIDENCE
  echo "550 5.7.26 Unauthenticated email from $1 is not accepted due to the domain's DMARC policy ($2); $3; the sender must pass SPF or DKIM aligned with $1"
}

# name | envelope sender | From | DKIM signer (- none) | tamper | expected: reply at end of data,
# or the dmarc= resinfo of Authentication-Results when accepted
scenario() {
  local name=$1 sender=$2 from=$3 signer=$4 tamper=$5 want=$6 id="<$1@test.example>"
  [[ -n "${7:-}" ]] && id=$7
  message "$TB_DIR/$name.eml" "$from" "$id" "$signer" "$tamper"
  local out reply
  out=$(harness "$TB_DIR/policy.conf" "127.0.0.1@$NSD_PORT" "$sender" "$TB_DIR/$name.eml")
  reply=$(eom_reply <<< "$out")
  if [[ "$want" == dmarc=* ]]; then
    [[ "$reply" == "250 2.0.0 Ok: queued" ]] || { bad "$name: not accepted: $reply"; return; }
    expect_eq "$name" "$want" "$(dmarc_ar <<< "$out")"
  else
    expect_eq "$name" "$want" "$reply"
  fi
}

# RFC 7489 3.1: relaxed alignment, by SPF and by DKIM, and neither.
scenario relaxed_spf bounce@mail.reject.example alice@reject.example - "" \
  "dmarc=pass (p=reject dis=none) header.from=reject.example policy.dmarc=none"
scenario relaxed_dkim bounce@other.example alice@reject.example mail.reject.example "" \
  "dmarc=pass (p=reject dis=none) header.from=reject.example policy.dmarc=none"
scenario unaligned bounce@other.example alice@reject.example other.example "" \
  "$(reject_text reject.example p=reject "SPF pass for other.example (not aligned with reject.example); DKIM pass for d=other.example (not aligned with reject.example)")"
scenario dkim_broken bounce@other.example alice@reject.example reject.example tamper \
  "$(reject_text reject.example p=reject "SPF pass for other.example (not aligned with reject.example); DKIM fail for d=reject.example (body hash mismatch)")"
# Strict alignment: a subdomain no longer counts.
scenario strict_spf bounce@mail.strict.example alice@strict.example - "" \
  "$(reject_text strict.example p=reject "SPF pass for mail.strict.example (not aligned with strict.example); DKIM: no signature")"
scenario strict_dkim bounce@other.example alice@strict.example mail.strict.example "" \
  "$(reject_text strict.example p=reject "SPF pass for other.example (not aligned with strict.example); DKIM pass for d=mail.strict.example (not aligned with strict.example)")"
scenario strict_exact bounce@strict.example alice@strict.example - "" \
  "dmarc=pass (p=reject dis=none) header.from=strict.example policy.dmarc=none"
# 6.6.3: the organisational domain's record, and its sp= for a subdomain.
scenario org_fallback_sp bounce@other.example alice@news.orgfb.example - "" \
  "$(reject_text news.orgfb.example sp=reject "SPF pass for other.example (not aligned with news.orgfb.example); DKIM: no signature")"
scenario org_itself_p bounce@other.example alice@orgfb.example - "" \
  "dmarc=fail (p=none dis=none) header.from=orgfb.example policy.dmarc=none"
# 6.6.4: pct. The sample is FNV-1a of pct_seed and the Message-ID, mod 100: with this test's
# seed <pct3@test.example> is 14 (inside pct=50), <pct1@test.example> is 56 (outside).
scenario pct0 bounce@other.example alice@pct0.example - "" \
  "dmarc=fail (p=reject dis=quarantine sampled_out) header.from=pct0.example policy.dmarc=quarantine"
scenario pct50_selected bounce@other.example alice@pct50.example - "" \
  "$(reject_text pct50.example p=reject "SPF pass for other.example (not aligned with pct50.example); DKIM: no signature")" \
  "<pct3@test.example>"
scenario pct50_sampled_out bounce@other.example alice@pct50.example - "" \
  "dmarc=fail (p=reject dis=quarantine sampled_out) header.from=pct50.example policy.dmarc=quarantine" \
  "<pct1@test.example>"
scenario pct100 bounce@other.example alice@pct100.example - "" \
  "$(reject_text pct100.example p=reject "SPF pass for other.example (not aligned with pct100.example); DKIM: no signature")"
# 6.6.3: several records, a broken record, p= missing (with rua=: p=none), no record at all.
scenario several_records bounce@other.example alice@multi.example - "" \
  "dmarc=permerror (2 DMARC records at _dmarc.multi.example) header.from=multi.example"
scenario broken_record bounce@other.example alice@broken.example - "" \
  "dmarc=permerror (invalid DMARC record at _dmarc.broken.example: invalid p= or sp= tag and no rua= to report to) header.from=broken.example"
scenario p_missing bounce@other.example alice@nop.example - "" \
  "dmarc=fail (p=none dis=none) header.from=nop.example policy.dmarc=none"
scenario p_none bounce@other.example alice@none.example - "" \
  "dmarc=fail (p=none dis=none) header.from=none.example policy.dmarc=none"
scenario p_quarantine bounce@other.example alice@quarantine.example - "" \
  "dmarc=fail (p=quarantine dis=quarantine) header.from=quarantine.example policy.dmarc=quarantine"
scenario no_record bounce@other.example alice@other.example - "" \
  "dmarc=none (no DMARC record at _dmarc.other.example) header.from=other.example"
# 6.6.1: a From with two addresses of different domains.
scenario two_from_domains bounce@other.example "a@reject.example, b@strict.example" - "" \
  "550 5.7.1 Message rejected: the From header field names several domains (reject.example, strict.example), so DMARC cannot tell whose policy applies (RFC 7489 6.6.1)"

# The quarantine header of a quarantined message is in the harness's header changes.
message "$TB_DIR/q.eml" alice@quarantine.example "<q@test.example>"
out=$(harness "$TB_DIR/policy.conf" "127.0.0.1@$NSD_PORT" bounce@other.example "$TB_DIR/q.eml")
[[ "$out" == *"+ X-Mxguard-Quarantine: dmarc: quarantine.example p=quarantine failed"* ]] \
  && ok "quarantine: header added" || bad "quarantine header missing: $out"

# A policy lookup SERVFAIL: a DNS server of our own answers everything else.
servfail_zone="$TB_DIR/servfail.zone"
printf '%s\n' "other.example 300 TXT v=spf1 ip4:192.0.2.10 -all" \
  "_dmarc.servfail.example 0 SERVFAIL -" > "$servfail_zone"
python3 "$here/testbed/slow_dns.py" --port 0 --delay-ms 0 --zone-file "$servfail_zone" \
  > "$TB_DIR/slow_dns.port" 2> "$TB_DIR/slow_dns.log" &
slow_pid=$!
stop_slow_dns() { kill "$slow_pid" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_slow_dns)
for ((i = 0; i < 100; i++)); do [[ -s "$TB_DIR/slow_dns.port" ]] && break; sleep 0.05; done
slow_port=$(head -1 "$TB_DIR/slow_dns.port")
message "$TB_DIR/servfail.eml" alice@servfail.example "<s@test.example>"
out=$(harness "$TB_DIR/policy.conf" "127.0.0.1@$slow_port" bounce@other.example "$TB_DIR/servfail.eml")
expect_eq "servfail, on_failure = accept: accepted" "250 2.0.0 Ok: queued" "$(eom_reply <<< "$out")"
expect_eq "servfail: dmarc=temperror" \
  "dmarc=temperror (TXT _dmarc.servfail.example: SERVFAIL) header.from=servfail.example" \
  "$(dmarc_ar <<< "$out")"
policy "$TB_DIR/tempfail.conf" "on_failure = tempfail"
out=$(harness "$TB_DIR/tempfail.conf" "127.0.0.1@$slow_port" bounce@other.example "$TB_DIR/servfail.eml")
expect_eq "servfail, on_failure = tempfail: 451, never a 5xx" \
  "451 4.7.26 Message deferred: the DMARC policy of servfail.example could not be looked up (TXT _dmarc.servfail.example: SERVFAIL); try again later" \
  "$(eom_reply <<< "$out")"

# Through a real Postfix.
policy "$TB_DIR/milter.conf" "on_failure = accept" "trusted_forwarders = 192.0.2.30"
# Every transaction is recorded, for the aggregate report at the end.
printf '%s\n' "[record]" "file = $TB_DIR/record.jsonl" > "$TB_DIR/mxguard.conf"
MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/milter.conf" --config "$TB_DIR/mxguard.conf" || exit 1
start_postfix || exit 1
data_reply() {  # the reply to the end of DATA in a swaks transcript
  awk '/^ -> \.$/ {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' "$1"
}
send() {  # NAME CLIENT-IP SENDER FILE
  tb_swaks --xclient-addr "$2" --xclient-name mail.client.example.net --ehlo mail.client.example.net \
    --from "$3" --to "user@$TB_MAIL_DOMAIN" --data "$4" > "$TB_DIR/$1.swaks"
  data_reply "$TB_DIR/$1.swaks"
}
delivered_ar() {  # PATTERN: the dmarc= resinfo of the delivered copy matching PATTERN
  local f
  f=$(tb_wait_delivery user "$1" 10) || { echo "not delivered"; return; }
  awk '/^\r?$/ {exit} {print}' "$f" | tr -d '\r' |
    awk '/^[ \t]/ {sub(/^[ \t]+/, " "); line = line $0; next}
         {if (line != "") print line; line = $0} END {print line}' |
    grep '^Authentication-Results: mx.example.net;' | dmarc_ar
}

message "$TB_DIR/spoof.eml" "PayPal <service@reject.example>" "<spoof@test.example>"
expect_eq "postfix: p=reject spoof refused at end of DATA" \
  "$(reject_text reject.example p=reject "SPF pass for other.example (not aligned with reject.example); DKIM: no signature")" \
  "$(send spoof 192.0.2.10 bounce@other.example "$TB_DIR/spoof.eml")"
tb_wait_log "$MXGUARD_LOG" "from=<bounce@other.example>" 5 | grep -q "dmarc:fail/reject action=reject reason=dmarc.fail" \
  && ok "postfix: log names dmarc.fail" || bad "postfix log: $(cat "$MXGUARD_LOG")"

message "$TB_DIR/none.eml" alice@none.example "<delivered-none@test.example>"
reply=$(send none 192.0.2.10 bounce@other.example "$TB_DIR/none.eml")
[[ "$reply" == "250 2.0.0 Ok: queued as "* ]] && ok "postfix: p=none failure accepted" || bad "p=none: $reply"
expect_eq "postfix: delivered copy says dmarc=fail" \
  "dmarc=fail (p=none dis=none) header.from=none.example policy.dmarc=none" \
  "$(delivered_ar "delivered-none@test.example")"

# A forwarder rewrites the envelope sender (SRS: its own domain, no SPF record here) and breaks
# the author's signature (a list footer): DMARC fails, the trusted_forwarders entry lets it in.
message "$TB_DIR/fwd.eml" alice@reject.example "<forwarded@test.example>" reject.example tamper
reply=$(send fwd 192.0.2.30 SRS0=ab12=CD=reject.example=alice@fwd.example "$TB_DIR/fwd.eml")
[[ "$reply" == "250 2.0.0 Ok: queued as "* ]] && ok "postfix: trusted forwarder accepted" || bad "forwarder: $reply"
expect_eq "postfix: the forwarder's exemption is in Authentication-Results" \
  "dmarc=fail (p=reject dis=none trusted_forwarder) header.from=reject.example policy.dmarc=none" \
  "$(delivered_ar "forwarded@test.example")"

message "$TB_DIR/qheader.eml" alice@quarantine.example "<qheader@test.example>"
send qheader 192.0.2.10 bounce@other.example "$TB_DIR/qheader.eml" > /dev/null
f=$(tb_wait_delivery user "qheader@test.example" 10) \
  && grep -q '^X-Mxguard-Quarantine: dmarc: quarantine.example p=quarantine failed' "$f" \
  && ok "postfix: p=quarantine delivered with the quarantine header" \
  || bad "postfix: quarantine header not in the delivered copy"
stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"

# quarantine_with = hold: smfi_quarantine puts the message on Postfix's hold queue.
policy "$TB_DIR/hold.conf" "on_failure = accept" "quarantine_with = hold"
start_mxguard "$MXGUARD" "$TB_DIR/hold.conf" --config "$TB_DIR/mxguard.conf" || exit 1
message "$TB_DIR/hold.eml" alice@quarantine.example "<hold@test.example>"
reply=$(send hold 192.0.2.10 bounce@other.example "$TB_DIR/hold.eml")
queue_id=${reply##* }
[[ "$reply" == "250 2.0.0 Ok: queued as "* ]] && ok "postfix: p=quarantine accepted" || bad "hold: $reply"
tb_wait_log "$POSTFIX_LOG" "$queue_id: milter-hold: END-OF-MESSAGE" 10 | grep -q "milter triggers HOLD action" \
  && ok "postfix: milter triggers HOLD action" \
  || bad "postfix: no HOLD for $queue_id: $(grep "$queue_id" "$POSTFIX_LOG")"
postqueue -c "$POSTFIX_CONF" -p | grep -q "^$queue_id!" \
  && ok "postfix: $queue_id is on the hold queue" || bad "hold queue: $(postqueue -c "$POSTFIX_CONF" -p)"
stop_mxguard && ok "mxguard (hold) exited cleanly" || bad "mxguard exit/sanitizer"

# RFC 7489 7.2: the aggregate reports of this run's record, valid against appendix C's schema.
mkdir -p "$TB_DIR/reports"
"$CHECK" --dmarc-report "$TB_DIR/record.jsonl" --org "mxguard test" --email dmarc@mx.example.net \
  --output "$TB_DIR/reports" > "$TB_DIR/reports.list" 2> "$TB_DIR/reports.err"
expect_eq "dmarc-report: exit 0" 0 $?
expect_eq "dmarc-report: one report per policy domain (reject, none, quarantine .example)" 3 \
  "$(wc -l < "$TB_DIR/reports.list")"
for f in "$TB_DIR"/reports/*.xml; do
  xmllint --noout --schema "$here/integration/dmarc/rua.xsd" "$f" > "$TB_DIR/lint" 2>&1 \
    && ok "report $(basename "$f") validates" || bad "report $(basename "$f"): $(cat "$TB_DIR/lint")"
done
report=$(ls "$TB_DIR"/reports/mx.example.net\!reject.example\!*.xml 2>/dev/null | head -1)
xp() { xmllint --xpath "string($1)" "$report" 2>/dev/null; }
expect_eq "report: policy_published p" reject "$(xp '/feedback/policy_published/p')"
expect_eq "report: the spoof's row" "reject 1 192.0.2.10" \
  "$(xp '//record[row/policy_evaluated/disposition="reject"]/row/policy_evaluated/disposition') $(xp '//record[row/policy_evaluated/disposition="reject"]/row/count') $(xp '//record[row/policy_evaluated/disposition="reject"]/row/source_ip')"
expect_eq "report: the forwarder's override" "trusted_forwarder 192.0.2.30" \
  "$(xp '//record/row/policy_evaluated/reason/type') $(xp '//record[row/policy_evaluated/reason]/row/source_ip')"
tb_summary
