#!/usr/bin/env bash
# dump_config_test.sh - `mxguard --dump-config` prints what mxguard.conf and the policy set, in the
# schema's order under a comment naming each file (postconf -n); `--dump-config --defaults`
# every option with its default without reading any file (postconf -d); `--defaults --man` is
# man/mxguard-policy.5 exactly; misuse is exit 64 and a broken policy exit 78, as at a start.
# Must not: use the network beyond loopback (DNS goes to an unused loopback port).
set -uo pipefail
MXGUARD=$1
work=$(mktemp -d)
here=$(cd "$(dirname "$0")/../.." && pwd)
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/testbed/testbed.sh
source "$here/tests/testbed/testbed.sh"  # ok, bad, tb_summary

# 1. Every option at its default, no file read (the default mxguard.conf need not exist).
defaults=$("$MXGUARD" --dump-config --defaults 2>&1)
rc=$?
[[ $rc -eq 0 ]] && ok "--dump-config --defaults exits 0" || bad "--dump-config --defaults: exit $rc"
want_block=$'[dns]\nforward =\npass_local_zone =\nforward_private_reverse = yes\ncache_entries = 20000\ncache_megabytes = 64\n'
[[ "$defaults" == *"$want_block"* ]] && ok "[dns] with its five defaults, in order" \
  || bad "no [dns] block as expected in: $(head -c 600 <<<"$defaults")"
for line in "# mxguard.conf: every option at its default" "# the policy file: every option at its default" \
  "socket = unix:/run/mxguard/mxguard.sock" "[helo]" "non_fqdn = warn" "[rdns]" \
  "not_confirmed = warn" "[headers]" "date_syntax = warn" "[callout]" \
  "max_probes_per_domain_per_minute = 60" \
  "public_suffix_list = /usr/share/publicsuffix/public_suffix_list.dafsa"; do
  grep -qxF -- "$line" <<<"$defaults" && ok "defaults have: $line" || bad "defaults lack: $line"
done
n=$(grep -c ' =' <<<"$defaults")
((n > 200)) && ok "$n options with their defaults" || bad "only $n options in the defaults"

# 2. The man page is the schema rendered.
if "$MXGUARD" --dump-config --defaults --man | cmp -s - "$here/man/mxguard-policy.5"; then
  ok "--dump-config --defaults --man is man/mxguard-policy.5"
else bad "man/mxguard-policy.5 differs from the schema: run mxguard --dump-config --defaults --man > man/mxguard-policy.5"; fi

# Every page names the version project(VERSION) gives the programs (a release bumps them all).
version=$("$MXGUARD" --version | awk '{print $2}')
for page in "$here"/man/*.[0-9]; do
  grep -q "^\.TH .*\"mxguard $version\"" "$page" && ok "$(basename "$page") is of mxguard $version" \
    || bad "$(basename "$page"): .TH does not say mxguard $version: $(grep '^\.TH' "$page")"
done

# 3. What the files set, in schema order (not file order), each file named; a class as written.
printf 'max_connections = 10\nhostname = mx.example.net\n[dns]\ncache_megabytes = 32\nforward = 127.0.0.1@9\n' \
  > "$work/mxguard.conf"
cat > "$work/policy.conf" <<'EOF'
[engine]
stages = helo rdns
delay_reject = no
[helo]
non_fqdn = reject
missing = reject
[class strict]
recipients = ceo@example.net
helo.non_fqdn = reject
EOF
chmod 600 "$work/mxguard.conf" "$work/policy.conf"
got=$("$MXGUARD" --config "$work/mxguard.conf" --policy "$work/policy.conf" --user nobody \
  --dump-config 2>&1)
rc=$?
want="# mxguard.conf: $work/mxguard.conf
hostname = mx.example.net
max_connections = 10

[dns]
forward = 127.0.0.1@9
cache_megabytes = 32

# policy: $work/policy.conf
[engine]
stages = helo rdns
delay_reject = no

[helo]
missing = reject
non_fqdn = reject

[class strict]
recipients = ceo@example.net
helo.non_fqdn = reject"
if [[ $rc -eq 0 && "$got" == "$want" ]]; then ok "--dump-config prints what both files set"
else bad "--dump-config (exit $rc):$(diff <(echo "$want") <(echo "$got") | head -20)"; fi

# 4. Misuse and a broken policy.
got=$("$MXGUARD" --defaults 2>&1); rc=$?
[[ $rc -eq 64 && "$got" == "mxguard: --defaults goes with --dump-config"* ]] \
  && ok "--defaults alone: exit 64" || bad "--defaults alone: exit $rc: $got"
got=$("$MXGUARD" --dump-config --man 2>&1); rc=$?
[[ $rc -eq 64 && "$got" == "mxguard: --man goes with --dump-config --defaults"* ]] \
  && ok "--man without --defaults: exit 64" || bad "--man without --defaults: exit $rc: $got"
printf '[engine]\nstages = helo\n[helo]\nnon_fqdn = sometimes\n' > "$work/broken.conf"
chmod 600 "$work/broken.conf"
got=$("$MXGUARD" --config '' --policy "$work/broken.conf" --user nobody --dns 127.0.0.1@9 \
  --dump-config 2>&1); rc=$?
[[ $rc -eq 78 && "$got" == "mxguard: $work/broken.conf:4: helo.non_fqdn: "* ]] \
  && ok "a broken policy is not dumped: exit 78, FILE:LINE: OPTION" || bad "broken policy: exit $rc: $got"

tb_summary
