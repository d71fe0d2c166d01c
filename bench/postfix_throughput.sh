#!/usr/bin/env bash
# postfix_throughput.sh - messages per second through a private Postfix, measured in one run for
# four setups: Postfix alone (baseline), Postfix + mxguard with no stages (the milter protocol
# cost, like a null milter), Postfix + mxguard running rbl, helo and rdns against a local nsd,
# and the same plus spf, headers and dkim. smtp-source connects from loopback, for which spf
# does not evaluate (local submission), and its messages are unsigned (dkim=none, no key
# lookup): that row measures the stages' fixed cost, not DNS-heavy SPF or RSA verification.
# Reports each rate and its ratio to the baseline; machines here are noisy, ratios are what count.
# Usage: bench/postfix_throughput.sh BUILD_DIR [MESSAGES] [SESSIONS]   (needs root, like the tests)
# Must not: be run from CI (it is a benchmark, not a test).
set -uo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [MESSAGES] [SESSIONS]}" && pwd)
messages=${2:-2000}
sessions=${3:-20}
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/tests/testbed/testbed.sh"
tb_init
tb_require smtp-source
start_nsd || exit 1

cat > "$TB_DIR/none.conf" <<'P'
[engine]
stages =
whitelist_clients =
P
cat > "$TB_DIR/stages.conf" <<'P'
[engine]
stages = rbl helo rdns
whitelist_clients =
[rbl]
on_failure = accept
zone = dnsbl.example.net=127.0.0.[2..11]
[helo]
non_fqdn = warn
[rdns]
no_ptr = warn
not_confirmed = warn
P

cat > "$TB_DIR/auth.conf" <<'P'
[engine]
stages = rbl helo rdns spf headers dkim
whitelist_clients =
[rbl]
on_failure = accept
zone = dnsbl.example.net=127.0.0.[2..11]
[helo]
non_fqdn = warn
[rdns]
no_ptr = warn
not_confirmed = warn
[headers]
missing_date = warn
missing_from = warn
P
sender=sender@example.org

# run LABEL: sends $messages messages in $sessions parallel sessions, prints msg/s.
run() {
  local start end
  start=$(date +%s%N)
  smtp-source -s "$sessions" -m "$messages" -l 2000 -f "$sender" -t user@example.org \
    -M mail.client.example.net "127.0.0.1:$SMTP_PORT" || return 1
  end=$(date +%s%N)
  echo "scale=1; $messages * 1000000000 / ($end - $start)" | bc
}

MILTER_PORT=$(free_port)
start_postfix "smtpd_milters =" || exit 1
base=$(run) || exit 1
stop_postfix

start_mxguard "$build/mxguard" "$TB_DIR/none.conf" || exit 1
start_postfix || exit 1
none=$(run) || exit 1
stop_postfix
stop_mxguard

start_mxguard "$build/mxguard" "$TB_DIR/stages.conf" || exit 1
start_postfix || exit 1
full=$(run) || exit 1
stop_postfix
stop_mxguard

sender=bench@spfbench.example.net
start_mxguard "$build/mxguard" "$TB_DIR/auth.conf" || exit 1
start_postfix || exit 1
auth=$(run) || exit 1
stop_postfix
stop_mxguard

printf '%-40s %10s msg/s  ratio\n' "setup ($messages messages, $sessions sessions)" ""
printf '%-40s %10s msg/s  1.00\n' "postfix alone" "$base"
printf '%-40s %10s msg/s  %s\n' "postfix + mxguard, no stages" "$none" "$(echo "scale=2; $none / $base" | bc)"
printf '%-40s %10s msg/s  %s\n' "postfix + mxguard, rbl helo rdns" "$full" "$(echo "scale=2; $full / $base" | bc)"
printf '%-40s %10s msg/s  %s\n' "postfix + mxguard, + spf headers dkim*" "$auth" "$(echo "scale=2; $auth / $base" | bc)"
