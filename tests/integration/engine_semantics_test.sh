#!/usr/bin/env bash
# engine_semantics_test.sh - two rules the engine owns (DESIGN.md), end to end through a real
# Postfix, nsd and swaks:
#  A. A check that cannot reject cannot defer either: with the shipped default policy
#     (rdns not_confirmed = warn, on_failure = tempfail) a client whose PTR name cannot be resolved
#     (SERVFAIL) is accepted, the would-be 450 logged as a tempfail_warning; and with every rdns
#     check off the stage makes no lookup at all (a query-logging proxy between mxguard and nsd
#     shows no PTR query) and the client is accepted.
#  B. Authentication ({auth_authen} at MAIL) drops verdicts held from connect and HELO: an
#     RBL-listed client that logs in (XCLIENT LOGIN=, as after SMTP AUTH) is accepted; the same
#     client without a login still gets the held 554 at RCPT.
# Must not: use any network beyond loopback (mxguard's only DNS server is the test nsd, behind the
# proxy), or leave a process or file behind (testbed traps EXIT).
set -uo pipefail
MXGUARD=${1:?usage: engine_semantics_test.sh MXGUARD MXGUARD-CHECK}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"

tb_require python3 nsd nsd-checkconf dig swaks postfix postconf
[[ -x "$MXGUARD" ]] || { echo "FAIL: $MXGUARD is not executable"; exit 1; }
[[ $(id -u) -eq 0 ]] || tb_skip "a private Postfix instance needs root"
tb_init

DEFAULT_POLICY="$root/policies/default.conf"
SENDER="sender@client.example.net"  # no SPF record (client.example.net has no TXT): spf none
# 192.0.2.50's PTR is mail.unserved.example.com, a name in no zone nsd serves: nsd answers REFUSED
# and libunbound reports SERVFAIL, so the forward confirmation fails temporarily.
TEMPFAIL_ADDR=192.0.2.50
TEMPFAIL_PTR=mail.unserved.example.com
# 192.0.2.2 (listed.example.net, forward-confirmed) is listed in dnsbl.example.net.
LISTED_ADDR=192.0.2.2
LISTED_REPLY="554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using dnsbl.example.net; Listed for spam, see https://dnsbl.example.net/lookup?ip=192.0.2.2"

# The shipped default does not whitelist the test clients (only 127.0.0.0/8 and ::1; Postfix shows
# mxguard the XCLIENT address), so it is used as shipped; say so loudly if that ever changes.
grep -qxF "whitelist_clients = 127.0.0.0/8 ::1" "$DEFAULT_POLICY" \
  || bad "policies/default.conf's whitelist_clients changed: check it does not cover 192.0.2.0/24"

start_nsd || { echo "FAIL: nsd did not start"; exit 1; }
QUERY_LOG="$TB_DIR/queries.log"
: > "$QUERY_LOG"
python3 "$here/../testbed/delaying_dns_proxy.py" --upstream "127.0.0.1:$NSD_PORT" \
  --log "$QUERY_LOG" > "$TB_DIR/proxy.port" 2> "$TB_DIR/proxy.err" &
proxy_pid=$!
stop_proxy() { kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_proxy)
for _ in $(seq 100); do [[ -s "$TB_DIR/proxy.port" ]] && break; sleep 0.05; done
PROXY_PORT=$(head -1 "$TB_DIR/proxy.port")
[[ -n "$PROXY_PORT" ]] || { echo "FAIL: the query-logging proxy did not start: $(cat "$TB_DIR/proxy.err")"; exit 1; }
# The nsd answers through the proxy: a served name, and REFUSED for the unserved PTR name.
expect_eq "proxy passes nsd's answers" "mail.unserved.example.com." \
  "$(dig +short +time=2 +tries=1 @127.0.0.1 -p "$PROXY_PORT" -x "$TEMPFAIL_ADDR")"
dig +time=2 +tries=1 @127.0.0.1 -p "$PROXY_PORT" "$TEMPFAIL_PTR" A | grep -q "status: REFUSED" \
  && ok "nsd refuses $TEMPFAIL_PTR (not in its zones)" || bad "nsd does not refuse $TEMPFAIL_PTR"

MILTER_PORT=$(free_port)
# mxguard_via_proxy POLICY: (re)start mxguard with POLICY, its DNS forwarder the proxy.
mxguard_via_proxy() {
  stop_mxguard
  NSD_PORT=$PROXY_PORT start_mxguard "$MXGUARD" "$1" || { echo "FAIL: mxguard did not start"; exit 1; }
}
mxguard_via_proxy "$DEFAULT_POLICY"
start_postfix || { echo "FAIL: Postfix did not start"; exit 1; }

# session FILE ADDR NAME REVERSE_NAME HELO [swaks args...]: one SMTP session as the client ADDR
# (XCLIENT, with the names Postfix's own lookups would have given); the milter sees connect, the
# EHLO after XCLIENT, MAIL, RCPT.
session() {
  local file=$1 addr=$2 name=$3 rname=$4 helo=$5
  shift 5
  tb_swaks --xclient-addr "$addr" --xclient-name "$name" --xclient-reverse-name "$rname" \
    --ehlo "$helo" --from "$SENDER" --to "user@$TB_MAIL_DOMAIN" "$@" > "$TB_DIR/$file.swaks"
}
reply_after() {  # FILE COMMAND-REGEX: the (first line of the) reply to the command
  awk -v cmd="$2" '$0 ~ "^ -> " cmd {w=1; next} w && /^<(\*\*|-) / {sub(/^<(\*\*|-) +/, ""); print; exit}' \
    "$TB_DIR/$1.swaks"
}
rcpt_reply() { reply_after "$1" "RCPT TO"; }
data_reply() { reply_after "$1" "\\.$"; }
queue_id() { sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p' "$TB_DIR/$1.swaks"; }
expect_queued() {  # FILE SUBJECT: queued, and delivered to user@
  local got
  got=$(data_reply "$1")
  if [[ "$got" != "250 2.0.0 Ok: queued as "* ]]; then
    bad "$1: message not queued: '${got:-no reply to DATA}' (transcript: $TB_DIR/$1.swaks)"
    return
  fi
  ok "$1: message $got"
  tb_wait_delivery user "Subject: $2" 10 >/dev/null && ok "$1: delivered to user@$TB_MAIL_DOMAIN" \
    || bad "$1: queued but not delivered; Postfix log: $(tail -3 "$POSTFIX_LOG")"
}
# summary FILE ADDR MARK: mxguard's transaction line for the session, among the log lines after
# line MARK (the queued message's line when there is one, else the NOQUEUE line), waiting up to
# 5 s (it is written when Postfix ends the message or the milter session).
summary() {
  local qid pattern i line
  qid=$(queue_id "$1")
  pattern="${qid:-NOQUEUE}: client="
  for ((i = 0; i < 100; i++)); do
    line=$(log_since "$3" | grep -F -- "$pattern" | grep -F -- "[$2]" | tail -1)
    [[ -n "$line" ]] && { echo "$line"; return 0; }
    sleep 0.05
  done
  return 1
}
expect_in() {  # NAME NEEDLE HAYSTACK
  [[ "$3" == *"$2"* ]] && ok "$1: has '$2'" || bad "$1: no '$2' in '$3'"
}
log_mark() { wc -l < "$MXGUARD_LOG"; }
log_since() { tail -n +"$(($1 + 1))" "$MXGUARD_LOG"; }

# --- A1. The shipped default: rdns not_confirmed = warn, on_failure = tempfail. The PTR exists,
#         its name's lookup fails temporarily: a warn check must not defer, so accepted and logged.
mark=$(log_mark)
session a-warn-servfail "$TEMPFAIL_ADDR" '[TEMPUNAVAIL]' "$TEMPFAIL_PTR" host50.example.net \
  --header "Subject: warn servfail"
expect_eq "a-warn-servfail: RCPT" "250 2.1.5 Ok" "$(rcpt_reply a-warn-servfail)"
expect_queued a-warn-servfail "warn servfail"
line=$(summary a-warn-servfail "$TEMPFAIL_ADDR" "$mark")
expect_in "a-warn-servfail: summary" "rdns:dns_failure/tempfail_warning" "$line"
expect_in "a-warn-servfail: summary" "action=accept" "$line"
want="rdns: tempfail_warning (not_confirmed = warn): would reply: 450 4.7.25 Client host rejected: cannot find your hostname, [$TEMPFAIL_ADDR] (rdns.dns_failure)"
log_since "$mark" | grep -qF -- "$want" && ok "a-warn-servfail: log has '$want'" \
  || { bad "a-warn-servfail: no '$want' in the mxguard log:"; log_since "$mark" | sed 's/^/    /'; }
# The proxy saw the lookups (so that its silence below means something).
grep -qxF "50.2.0.192.in-addr.arpa PTR" "$QUERY_LOG" && ok "a-warn-servfail: mxguard asked for the PTR" \
  || bad "a-warn-servfail: no PTR query in the proxy's log: $(tr '\n' ';' < "$QUERY_LOG")"
grep -qxF "$TEMPFAIL_PTR A" "$QUERY_LOG" && ok "a-warn-servfail: mxguard asked for $TEMPFAIL_PTR A" \
  || bad "a-warn-servfail: no A query for $TEMPFAIL_PTR in the proxy's log: $(tr '\n' ';' < "$QUERY_LOG")"

# --- A2. Every rdns check off (the rest as shipped, stages = rdns): the stage has nothing to
#         decide, so it looks nothing up and cannot fail; the client is accepted.
sed -e 's/^stages = .*/stages = rdns/' -e 's/^no_ptr = .*/no_ptr = off/' \
  -e 's/^not_confirmed = .*/not_confirmed = off/' -e 's/^dynamic = .*/dynamic = off/' \
  "$DEFAULT_POLICY" > "$TB_DIR/rdns-off.conf"
expect_eq "rdns-off policy: the edited lines" \
  "stages = rdns|no_ptr = off|not_confirmed = off|dynamic = off" \
  "$(grep -E '^(stages|no_ptr|not_confirmed|dynamic) = ' "$TB_DIR/rdns-off.conf" | paste -sd'|')"
mxguard_via_proxy "$TB_DIR/rdns-off.conf"  # a new daemon: nothing cached from A1
: > "$QUERY_LOG"
mark=$(log_mark)
session a-rdns-off "$TEMPFAIL_ADDR" '[TEMPUNAVAIL]' "$TEMPFAIL_PTR" host50.example.net \
  --header "Subject: rdns off"
expect_eq "a-rdns-off: RCPT" "250 2.1.5 Ok" "$(rcpt_reply a-rdns-off)"
expect_queued a-rdns-off "rdns off"
line=$(summary a-rdns-off "$TEMPFAIL_ADDR" "$mark")
expect_in "a-rdns-off: summary" "action=accept" "$line"
[[ -n "$line" && "$line" != *"rdns:dns_failure"* ]] && ok "a-rdns-off: no rdns:dns_failure in the summary" \
  || bad "a-rdns-off: summary line '$line'"
log_since "$mark" | grep -qF "rdns.dns_failure" && bad "a-rdns-off: rdns.dns_failure in the log:
$(log_since "$mark" | grep -F rdns.dns_failure)" || ok "a-rdns-off: no rdns.dns_failure in the log"
grep -qE "^(50\.2\.0\.192\.in-addr\.arpa PTR|$TEMPFAIL_PTR )" "$QUERY_LOG" \
  && bad "a-rdns-off: rdns looked up the client although every check is off: $(tr '\n' ';' < "$QUERY_LOG")" \
  || ok "a-rdns-off: no PTR or forward query for $TEMPFAIL_ADDR (queries: $(tr '\n' ' ' < "$QUERY_LOG"))"

# --- B. Default stages, the RBL zone the test nsd serves (192.0.2.2 is listed),
#        whitelist_authenticated = yes (as shipped).
sed -e 's/^zone = .*/zone = dnsbl.example.net=127.0.0.[2..11]*1/' \
  -e 's/^whitelist_authenticated = .*/whitelist_authenticated = yes/' \
  "$DEFAULT_POLICY" > "$TB_DIR/rbl.conf"
expect_eq "rbl policy: the edited lines" \
  "whitelist_authenticated = yes|zone = dnsbl.example.net=127.0.0.[2..11]*1" \
  "$(grep -E '^(zone|whitelist_authenticated) = ' "$TB_DIR/rbl.conf" | paste -sd'|')"
mxguard_via_proxy "$TB_DIR/rbl.conf"

# B1 (control): no login, the connect-time listing is held and delivered at RCPT.
mark=$(log_mark)
session b-no-login "$LISTED_ADDR" listed.example.net listed.example.net listed.example.net \
  --header "Subject: listed no login"
expect_eq "b-no-login: RCPT" "$LISTED_REPLY" "$(rcpt_reply b-no-login)"
line=$(summary b-no-login "$LISTED_ADDR" "$mark")
expect_in "b-no-login: summary" "action=reject reason=rbl.listed" "$line"

# B2: the same client logs in (XCLIENT LOGIN=alice: Postfix sets its SASL user as after AUTH and
#     sends {auth_authen} with MAIL). Authentication drops the held listing: accepted.
mark=$(log_mark)
session b-login "$LISTED_ADDR" listed.example.net listed.example.net listed.example.net \
  --xclient-login alice --header "Subject: listed with login"
grep -q '^ -> XCLIENT .*LOGIN=alice' "$TB_DIR/b-login.swaks" && grep -q '^<-  220 ' "$TB_DIR/b-login.swaks" \
  && ok "b-login: Postfix took XCLIENT LOGIN=alice" \
  || bad "b-login: XCLIENT LOGIN refused: $(grep -A1 '^ -> XCLIENT' "$TB_DIR/b-login.swaks" | tr '\n' ' ')"
expect_eq "b-login: RCPT" "250 2.1.5 Ok" "$(rcpt_reply b-login)"
expect_queued b-login "listed with login"
line=$(summary b-login "$LISTED_ADDR" "$mark")
expect_in "b-login: summary ({auth_authen} reached mxguard)" "sasl_username=alice" "$line"
expect_in "b-login: summary" "action=accept" "$line"

# Postfix must not have had any trouble talking to the milter.
if grep -E "warning: milter|milter.*(timeout|can't read|unexpected)" "$POSTFIX_LOG" > "$TB_DIR/milter-warnings"; then
  bad "Postfix logged milter warnings:"; sed 's/^/    /' "$TB_DIR/milter-warnings" | head -10
else ok "Postfix logged no milter warnings"; fi

stop_mxguard && ok "mxguard exited cleanly" || bad "mxguard exit/sanitizer"
tb_summary
