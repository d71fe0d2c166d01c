#!/usr/bin/env bash
# access_classes_test.sh - access maps and recipient classes (issue 23) through a real Postfix:
# the policy and maps of tests/integration/access (copied to the temp dir, relative map paths).
# 1. a forwarder's client entry "skip spf" lets its SPF-failing mail through (delivered) while the
#    same sender from another client gets the exact SPF 550; 2. one transaction to a strict class
#    (helo.non_fqdn = reject) and to an ordinary recipient: the strict one refused at RCPT with the
#    exact 504, the message delivered to the other only; 3. a local blocklist entry refuses at RCPT
#    with its own text (postmaster@ still reachable), a recipient entry refuses one address;
#    4. SIGHUP with a broken map: FILE:LINE: error, the old maps keep serving (no line of the
#    broken file applies); a group-writable map refused the same way; fixed map: the new entry
#    refuses. Every reply is first pinned with mxguard-check (same policy, same nsd).
# Must not: whitelist loopback (XCLIENT presents the clients), or edit the repository's copy of
# the maps (the SIGHUP steps rewrite the temp dir's).
set -uo pipefail
MXGUARD=${1:?usage: access_classes_test.sh MXGUARD MXGUARD-CHECK}
CHECK=${2:?usage: access_classes_test.sh MXGUARD MXGUARD-CHECK}
here="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/testbed/testbed.sh
source "$here/testbed/testbed.sh"
tb_require nsd nsd-checkconf dig swaks postfix postconf python3
[[ -x "$MXGUARD" ]] || { echo "FAIL: $MXGUARD is not executable"; exit 1; }
[[ -x "$CHECK" ]] || { echo "FAIL: $CHECK is not executable"; exit 1; }
[[ $(id -u) -eq 0 ]] || tb_skip "a private Postfix instance needs root"
tb_init
# strict@ (class strict) and gone@ (refused by the recipient map) must be mailboxes Postfix
# accepts: Postfix refuses an unknown recipient before the milter sees it.
TB_MAILBOXES="user strict gone postmaster abuse"

# The maps are refused unless only their owner may write them (umask or checkout may differ).
ACCESS="$TB_DIR/access"
mkdir -p "$ACCESS/maps"
install -m 644 "$here/integration/access/policy.conf" "$here/integration/access/clients.cidr" "$ACCESS/"
install -m 644 "$here/integration/access/maps/recipients" "$ACCESS/maps/"
POLICY="$ACCESS/policy.conf"
CLIENTS="$ACCESS/clients.cidr"

start_nsd || { echo "FAIL: nsd did not start"; exit 1; }

D=$TB_MAIL_DOMAIN
FWD_SENDER="list-bounces@spffail.example.net"  # spffail: -all, only 198.51.100.0/24 may send
SENDER="someone@client.example.net"             # no SPF record: spf none, accepted
SPF_FAIL_21="550 5.7.23 <$FWD_SENDER>: Sender address rejected: SPF fail: spffail.example.net does not designate 192.0.2.21 as a permitted sender; the domain says: 192.0.2.21 is not a mail server of spffail.example.net; see https://spffail.example.net/spf"
NON_FQDN="504 5.5.2 <mailhost>: Helo command rejected: need fully-qualified hostname"
BLOCKED="554 5.7.1 Mail from your network is refused; contact postmaster@example.org"
GONE="550 5.1.1 This address no longer exists"
NEW_ENTRY="554 5.7.1 Blocked since the reload"

# The harness with the same policy and nsd: the replies the Postfix sessions below must give.
# harness_rcpts ARGS...: the replies to each RCPT, one per line.
harness_rcpts() {
  "$CHECK" --policy "$POLICY" --dns "127.0.0.1@$NSD_PORT" --hostname mx.example.net "$@" 2>&1 |
    awk '/^>>> RCPT TO:/ { w = 1; next } w && /^<<< / { sub(/^<<< /, ""); print; w = 0 }'
}
expect_eq "harness: forwarder 192.0.2.20 (skip spf): RCPT" "250 2.1.5 Ok" \
  "$(harness_rcpts --client-ip 192.0.2.20 --helo fwd.example.net --from "$FWD_SENDER" --rcpt "user@$D")"
expect_eq "harness: 192.0.2.21, same sender: RCPT" "$SPF_FAIL_21" \
  "$(harness_rcpts --client-ip 192.0.2.21 --helo fwd.example.net --from "$FWD_SENDER" --rcpt "user@$D")"
expect_eq "harness: HELO mailhost to strict@ and user@" "$NON_FQDN"$'\n'"250 2.1.5 Ok" \
  "$(harness_rcpts --client-ip 192.0.2.10 --client-name mail.client.example.net --helo mailhost \
       --from "$SENDER" --rcpt "strict@$D" --rcpt "user@$D")"
expect_eq "harness: blocklisted 192.0.2.66 to user@ and postmaster@" "$BLOCKED"$'\n'"250 2.1.5 Ok" \
  "$(harness_rcpts --client-ip 192.0.2.66 --helo mail.client.example.net --from "$SENDER" \
       --rcpt "user@$D" --rcpt "postmaster@$D")"
expect_eq "harness: gone@ and user@" "$GONE"$'\n'"250 2.1.5 Ok" \
  "$(harness_rcpts --client-ip 192.0.2.10 --client-name mail.client.example.net \
       --helo mail.client.example.net --from "$SENDER" --rcpt "gone@$D" --rcpt "user@$D")"

MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$POLICY" || { echo "FAIL: mxguard did not start"; exit 1; }
start_postfix || { echo "FAIL: Postfix did not start"; exit 1; }

# session FILE ADDR NAME HELO SENDER RCPTS SUBJECT: one SMTP session through Postfix as the client
# ADDR (XCLIENT; NAME is its verified name and PTR, [UNAVAILABLE] = none), RCPTS comma-separated.
# swaks sends EHLO again after XCLIENT: that EHLO is the HELO the milter sees.
session() {
  local file=$1 addr=$2 name=$3 helo=$4 sender=$5 rcpts=$6 subject=$7
  tb_swaks --xclient-addr "$addr" --xclient-name "$name" --xclient-reverse-name "$name" \
    --ehlo "$helo" --from "$sender" --to "$rcpts" --header "Subject: $subject" \
    > "$TB_DIR/$file.swaks"
}
# rcpt_replies FILE: the reply to each RCPT, one per line; data_reply FILE: to the end of DATA.
rcpt_replies() {
  awk '/^ -> RCPT TO:/ { w = 1; next } w && /^<(\*\*|-) / { sub(/^<(\*\*|-) +/, ""); print; w = 0 }' \
    "$TB_DIR/$1.swaks"
}
data_reply() {
  awk '/^ -> \.$/ { w = 1; next } w && /^<(\*\*|-) / { sub(/^<(\*\*|-) +/, ""); print; exit }' \
    "$TB_DIR/$1.swaks"
}
expect_rcpts() {  # FILE WANT (one reply per line)
  expect_eq "$1: RCPT replies" "$2" "$(rcpt_replies "$1")"
}
expect_queued() {  # FILE
  local got
  got=$(data_reply "$1")
  [[ "$got" == "250 2.0.0 Ok: queued as "* ]] && ok "$1: $got" \
    || bad "$1: not queued: '${got:-no reply to DATA}' (transcript: $TB_DIR/$1.swaks)"
}
expect_no_data() {  # FILE: every recipient refused, so swaks never got to DATA
  grep -q '^ -> DATA' "$TB_DIR/$1.swaks" && bad "$1: DATA was sent" || ok "$1: no DATA (no recipient accepted)"
}
# summary ADDR SENDER: the (last) summary line of a transaction from ADDR by SENDER, from " to="
# or " rejected=" on (the head before it holds the queue id), waited for up to 5 s: the line is
# written when Postfix closes the milter session, after swaks returned.
summary() {
  local i line
  for ((i = 0; i < 100; i++)); do
    line=$(grep -F "[$1] " "$MXGUARD_LOG" | grep -F " from=<$2> " | tail -1)
    [[ -n "$line" ]] && { sed -E 's/^.* from=<[^>]*> //' <<< "$line"; return 0; }
    sleep 0.05
  done
  echo "no summary line for $1 <$2>"
}
# delivered BOX SUBJECT: the message arrived in BOX's Maildir.
delivered() {
  tb_wait_delivery "$1" "Subject: $2" 10 >/dev/null && ok "'$2' delivered to $1@" \
    || bad "'$2' not delivered to $1@"
}
not_delivered() {  # BOX SUBJECT (checked once the other copy arrived: one queue run delivers both)
  grep -rlF "Subject: $2" "$POSTFIX_MAILDIR_BASE/$1" >/dev/null 2>&1 \
    && bad "'$2' was delivered to $1@" || ok "'$2' not delivered to $1@"
}

# 1. A forwarder: SPF fails at our MX for what it relays, "192.0.2.20 skip spf" lets it in.
session fwd 192.0.2.20 '[UNAVAILABLE]' fwd.example.net "$FWD_SENDER" "user@$D" "access forwarded"
expect_rcpts fwd "250 2.1.5 Ok"
expect_queued fwd
delivered user "access forwarded"
expect_eq "fwd: summary line" \
  "to=<user@$D> stages=access:client/skip spf,helo:ok action=accept" \
  "$(summary 192.0.2.20 "$FWD_SENDER")"
session fwd-other 192.0.2.21 '[UNAVAILABLE]' fwd.example.net "$FWD_SENDER" "user@$D" "access not forwarded"
expect_rcpts fwd-other "$SPF_FAIL_21"
expect_no_data fwd-other
expect_eq "fwd-other: summary line" \
  "rejected=<user@$D> 550 5.7.23 stages=helo:ok,spf:fail/delayed action=reject reason=spf.fail reply=\"${SPF_FAIL_21#550 5.7.23 }\"" \
  "$(summary 192.0.2.21 "$FWD_SENDER")"

# 2. One transaction, two classes: strict@ refuses a HELO without a dot, user@ (the policy) warns.
session classes 192.0.2.10 mail.client.example.net mailhost "$SENDER" "strict@$D,user@$D" "access two classes"
expect_rcpts classes "$NON_FQDN"$'\n'"250 2.1.5 Ok"
expect_queued classes
delivered user "access two classes"
not_delivered strict "access two classes"
qid=$(data_reply classes | sed -n 's/^250 2\.0\.0 Ok: queued as //p')
if [[ -n "$qid" ]]; then
  expect_eq "classes: Postfix's deliveries of $qid" "to=<user@$D>" \
    "$(grep -oE "$qid: to=<[^>]*>" "$POSTFIX_LOG" | sed 's/^[^ ]* //' | sort -u | paste -sd ' ')"
else
  bad "classes: no queue id"
fi
expect_eq "classes: summary line" \
  "to=<user@$D> rejected=<strict@$D> 504 5.5.2 stages=helo:non_fqdn/reject_warning,spf:none,engine:class/judged by class strict,helo:non_fqdn/delayed@strict action=accept reason=helo.non_fqdn reply=\"${NON_FQDN#504 5.5.2 }\"" \
  "$(summary 192.0.2.10 "$SENDER")"
grep -qF "warning: helo: reject_warning (non_fqdn = warn): would reply: $NON_FQDN (helo.non_fqdn)" "$MXGUARD_LOG" \
  && ok "classes: the policy's warn logged for user@" || bad "classes: no reject_warning line"

# 3. A local blocklist entry, held to RCPT: postmaster@ still reachable. A recipient entry.
session blocked 192.0.2.66 '[UNAVAILABLE]' mail.client.example.net "$SENDER" "user@$D,postmaster@$D" "access blocked"
expect_rcpts blocked "$BLOCKED"$'\n'"250 2.1.5 Ok"
expect_queued blocked
delivered postmaster "access blocked"
not_delivered user "access blocked"
expect_eq "blocked: summary line" \
  "to=<postmaster@$D> rejected=<user@$D> 554 5.7.1 stages=access:reject/delayed,engine:exempt/accept despite earlier rejection action=accept reason=access.reject reply=\"${BLOCKED#554 5.7.1 }\"" \
  "$(summary 192.0.2.66 "$SENDER")"
GONE_SENDER="gone-test@client.example.net"
session gone 192.0.2.10 mail.client.example.net mail.client.example.net "$GONE_SENDER" "gone@$D,user@$D" "access gone"
expect_rcpts gone "$GONE"$'\n'"250 2.1.5 Ok"
expect_queued gone
delivered user "access gone"
not_delivered gone "access gone"
# The recipient entry's refusal is in the stages list (the map's FILE:LINE is in the trace).
line=$(summary 192.0.2.10 "$GONE_SENDER")
[[ "$line" == "to=<user@$D> rejected=<gone@$D> 550 5.1.1 stages="*"access:reject/reject"*" action=accept reason=access.reject reply=\"${GONE#550 5.1.1 }\"" ]] \
  && ok "gone: summary line: '$line'" || bad "gone: summary line: '$line'"

# 4. SIGHUP. reload REASON PATTERN: signal the daemon and wait for the (n+1)th line with PATTERN.
reload() {
  local before now i
  before=$(grep -cF -- "$2" "$MXGUARD_LOG")
  kill -HUP "$MXGUARD_PID"
  for ((i = 0; i < 100; i++)); do
    now=$(grep -cF -- "$2" "$MXGUARD_LOG")
    ((now > before)) && { ok "$1: logged '$(grep -F -- "$2" "$MXGUARD_LOG" | tail -1)'"; return 0; }
    sleep 0.05
  done
  bad "$1: no line with '$2' within 5 s: $(tail -3 "$MXGUARD_LOG")"
}
# probe FILE ADDR SUBJECT: a session as ADDR (no PTR) to user@, the sender FILE@ (summary lines
# apart); prints the RCPT reply.
probe() {
  session "$1" "$2" '[UNAVAILABLE]' mail.client.example.net "$1@client.example.net" "user@$D" "$3"
  rcpt_replies "$1"
}
# The broken map: a new valid entry (192.0.2.78) before the broken line, and 192.0.2.66's entry
# gone; none of it may apply while the old maps serve.
cp "$CLIENTS" "$TB_DIR/clients.good"
{
  echo "192.0.2.20 skip spf"
  echo "192.0.2.78 reject $NEW_ENTRY"
  echo "192.0.2.77 rejekt"
} > "$CLIENTS"
chmod 644 "$CLIENTS"
reload "broken map" "policy reload refused, keeping the running policy: $CLIENTS:3: unknown action 'rejekt' (use allow, skip STAGE|STAGE.CHECK..., reject [CODE X.Y.Z] [text] or tempfail [CODE X.Y.Z] [text])"
expect_eq "after the broken reload: 192.0.2.66 still refused (old map)" "$BLOCKED" \
  "$(probe old-66 192.0.2.66 "access old 66")"
expect_eq "after the broken reload: 192.0.2.78 accepted (no line of the broken map applies)" \
  "250 2.1.5 Ok" "$(probe old-78 192.0.2.78 "access old 78")"
expect_queued old-78
delivered user "access old 78"
session old-fwd 192.0.2.20 '[UNAVAILABLE]' fwd.example.net "$FWD_SENDER" "user@$D" "access old fwd"
expect_rcpts old-fwd "250 2.1.5 Ok"

# A map the group may write is refused too, the old maps keep serving.
cp "$TB_DIR/clients.good" "$CLIENTS"
echo "192.0.2.77 reject $NEW_ENTRY" >> "$CLIENTS"
chmod 664 "$CLIENTS"
reload "group-writable map" "policy reload refused, keeping the running policy: $CLIENTS: mode 0664 lets group change this file, which decides what mxguard does with mail; run: chmod go-w $CLIENTS"
expect_eq "after the refused reload: 192.0.2.77 accepted (old map)" "250 2.1.5 Ok" \
  "$(probe still-77 192.0.2.77 "access still 77")"

# Fixed: the new entry refuses, the old ones still apply.
chmod 644 "$CLIENTS"
reload "fixed map" "policy reloaded from $POLICY (2 stages)"
expect_eq "after the good reload: 192.0.2.77 refused by the new entry" "$NEW_ENTRY" \
  "$(probe new-77 192.0.2.77 "access new 77")"
expect_no_data new-77
expect_eq "new-77: summary line" \
  "rejected=<user@$D> 554 5.7.1 stages=access:reject/delayed action=reject reason=access.reject reply=\"${NEW_ENTRY#554 5.7.1 }\"" \
  "$(summary 192.0.2.77 new-77@client.example.net)"
expect_eq "after the good reload: 192.0.2.66 still refused" "$BLOCKED" \
  "$(probe new-66 192.0.2.66 "access new 66")"

n=$(grep -c "policy reload refused" "$MXGUARD_LOG")
expect_eq "two refused reloads" 2 "$n"
stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
