#!/usr/bin/env bash
# dmarc_report_test.sh - mxguard-check --dmarc-report on a hand-written record file (two policy
# domains: pass, fail rejected, quarantined, sampled out; a record without DMARC, one whose
# result had no policy, a broken line): the file names of RFC 7489 7.2.1.1, every document valid
# against tests/integration/dmarc/rua.xsd (appendix C), exact values by XPath, --day, usage errors.
# Must not: pass vacuously (a broken document must fail the same validation) or use the network.
set -uo pipefail
CHECK=${2:?usage: dmarc_report_test.sh MXGUARD MXGUARD-CHECK}
CHECK=$(cd "$(dirname "$CHECK")" && pwd)/$(basename "$CHECK")  # the test changes directory
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"
XSD="$here/dmarc/rua.xsd"

tb_require xmllint
[[ -x "$CHECK" ]] || { echo "FAIL: $CHECK is not executable"; exit 1; }
tb_init

# check NAME COMMAND...: ok when COMMAND succeeds, else bad.
check() { if "${@:2}"; then ok "$1"; else bad "$1"; fi; }
valid() { xmllint --noout --schema "$XSD" "$1" > /dev/null 2>&1; }
invalid() { ! valid "$1"; }

# One JSON line: TIME IP DMARC-OBJECT (or "" for a record without one).
rec() {
  local dmarc=""
  [[ -n "$3" ]] && dmarc=",\"dmarc\":$3"
  printf '{"time":"%s","client_address":"%s","sender":"b@x",' "$1" "$2"
  printf '"recipients":["u@receiver.example"],"action":"accept"%s}\n' "$dmarc"
}
# A dmarc object: DOMAIN RESULT P SP PCT DISPOSITION DKIM_ALIGNED SPF_ALIGNED OVERRIDES-JSON
facts() {
  printf '{"header_from":"%s","envelope_from":"%s","result":"%s",' "$1" "$1" "$2"
  printf '"policy_domain":"%s","policy_published":{"adkim":"r","aspf":"r",' "$1"
  printf '"p":"%s","sp":"%s","pct":%s,"fo":"0"},' "$3" "$4" "$5"
  printf '"disposition":"%s","dkim_aligned":"%s","spf_aligned":"%s",' "$6" "$7" "$8"
  printf '"overrides":%s,' "$9"
  printf '"dkim":[{"domain":"%s","selector":"s1","result":"%s"}],' "$1" "$7"
  printf '"spf":[{"domain":"%s","scope":"mfrom","result":"%s"}]}' "$1" "$8"
}

records="$TB_DIR/records.jsonl"
{
  # example.org, p=reject: two identical passes, one rejected failure.
  pass_org=$(facts example.org pass reject "" 100 none pass pass '[]')
  rec 2026-12-06T08:00:00Z 192.0.2.1 "$pass_org"
  rec 2026-12-06T09:00:00Z 192.0.2.1 "$pass_org"
  rec 2026-12-06T10:00:00Z 198.51.100.7 \
    "$(facts example.org fail reject "" 100 reject fail fail '[]')"
  # example.com, p=quarantine, no sp (so sp is p): one quarantined, one sampled out (pct=50).
  rec 2026-12-06T11:00:00Z 203.0.113.5 \
    "$(facts example.com fail quarantine "" 50 quarantine fail fail '[]')"
  rec 2026-12-06T12:00:00Z 203.0.113.6 "$(facts example.com fail quarantine "" 50 none fail fail \
    '[{"type":"sampled_out","comment":"pct=50"}]')"
  rec 2026-12-06T13:00:00Z 192.0.2.99 ""  # no dmarc
  rec 2026-12-06T14:00:00Z 192.0.2.98 "$(facts example.net none "" "" 100 none fail fail '[]')"
  echo '{"time":"2026-12-06T15:00:00Z", this is not JSON'  # line 8
  # The day before: only in the report without --day.
  rec 2026-12-05T23:00:00Z 192.0.2.1 "$pass_org"
} > "$records"

epoch() { date -u -d "$1" +%s; }
out="$TB_DIR/out"
"$CHECK" --dmarc-report "$records" --org "Receiver Inc" --email dmarc@receiver.example \
  --output "$out" > "$TB_DIR/stdout" 2> "$TB_DIR/stderr"
expect_eq "exit status" 0 "$?"
org_name="receiver.example!example.org!$(epoch 2026-12-05T23:00:00Z)!"
org_name+="$(epoch 2026-12-06T10:00:00Z).xml"
com_name="receiver.example!example.com!$(epoch 2026-12-06T11:00:00Z)!"
com_name+="$(epoch 2026-12-06T12:00:00Z).xml"
expect_eq "files named on stdout" "$out/$com_name"$'\n'"$out/$org_name" "$(cat "$TB_DIR/stdout")"
if grep -q "records.jsonl:8: not a transaction record" "$TB_DIR/stderr"; then
  ok "the broken line is reported with FILE:LINE"
else
  bad "no FILE:LINE error for the broken line: $(cat "$TB_DIR/stderr")"
fi
expect_eq "report files" 2 "$(find "$out" -name '*.xml' | wc -l)"

for f in "$out"/*.xml; do
  if xmllint --noout --schema "$XSD" "$f" > "$TB_DIR/lint" 2>&1; then
    ok "valid against rua.xsd: $(basename "$f")"
  else
    bad "invalid: $(basename "$f"): $(cat "$TB_DIR/lint")"
  fi
done

xp() { xmllint --xpath "string($2)" "$1" 2>/dev/null; }
org="$out/$org_name"
com="$out/$com_name"
expect_eq "example.org p" reject "$(xp "$org" /feedback/policy_published/p)"
expect_eq "example.org sp defaults to p" reject "$(xp "$org" /feedback/policy_published/sp)"
expect_eq "example.org records" 2 "$(xp "$org" 'count(/feedback/record)')"
expect_eq "example.org passes counted once, all three" 3 \
  "$(xp "$org" '/feedback/record[row/source_ip="192.0.2.1"]/row/count')"
expect_eq "example.org rejected" reject \
  "$(xp "$org" '/feedback/record[row/source_ip="198.51.100.7"]/row/policy_evaluated/disposition')"
expect_eq "example.org org_name" "Receiver Inc" "$(xp "$org" /feedback/report_metadata/org_name)"
expect_eq "example.org version" 1.0 "$(xp "$org" /feedback/version)"
expect_eq "example.com p" quarantine "$(xp "$com" /feedback/policy_published/p)"
expect_eq "example.com sp defaults to p" quarantine "$(xp "$com" /feedback/policy_published/sp)"
expect_eq "example.com pct" 50 "$(xp "$com" /feedback/policy_published/pct)"
expect_eq "example.com quarantined" quarantine \
  "$(xp "$com" '/feedback/record[row/source_ip="203.0.113.5"]/row/policy_evaluated/disposition')"
sampled='/feedback/record[row/source_ip="203.0.113.6"]/row/policy_evaluated'
expect_eq "example.com sampled out: reason" sampled_out "$(xp "$com" "$sampled/reason/type")"
expect_eq "example.com sampled out: disposition" none "$(xp "$com" "$sampled/disposition")"
expect_eq "no report for example.net (no policy)" 0 "$(find "$out" -name '*example.net*' | wc -l)"

# The validation is not vacuous: the same document with a disposition the schema does not know,
# or without its version, fails.
sed 's|<disposition>reject</disposition>|<disposition>bogus</disposition>|' "$org" \
  > "$TB_DIR/bogus.xml"
check "the broken copy says 'bogus'" grep -q '<disposition>bogus</disposition>' "$TB_DIR/bogus.xml"
check "a disposition 'bogus' fails validation" invalid "$TB_DIR/bogus.xml"
grep -v '<version>' "$org" > "$TB_DIR/noversion.xml"
check "a report without <version> fails validation" invalid "$TB_DIR/noversion.xml"

# --day: only that UTC day, and the range is all of it.
day_out="$TB_DIR/day"
"$CHECK" --dmarc-report "$records" --org R --email dmarc@receiver.example --day 2026-12-06 \
  --output "$day_out" > "$TB_DIR/day.stdout" 2> /dev/null
expect_eq "--day exit status" 0 "$?"
begin=$(epoch 2026-12-06T00:00:00Z)
day_org="$day_out/receiver.example!example.org!$begin!$((begin + 86399)).xml"
if [[ -f "$day_org" ]]; then
  ok "--day file name covers the whole day"
  expect_eq "--day leaves the day before out" 2 \
    "$(xp "$day_org" '/feedback/record[row/source_ip="192.0.2.1"]/row/count')"
  expect_eq "--day date_range end" $((begin + 86399)) \
    "$(xp "$day_org" /feedback/report_metadata/date_range/end)"
  check "--day report valid" valid "$day_org"
else
  bad "--day report missing: $(cat "$TB_DIR/day.stdout")"
fi

# Nothing DMARC-evaluated: said on stderr, exit 0, no file; the default output is the cwd.
none="$TB_DIR/none.jsonl"
rec 2026-12-06T13:00:00Z 192.0.2.99 "" > "$none"
mkdir -p "$TB_DIR/cwd"
(cd "$TB_DIR/cwd" && "$CHECK" --dmarc-report "$none" --org R --email d@receiver.example) \
  > "$TB_DIR/none.stdout" 2> "$TB_DIR/none.stderr"
expect_eq "nothing to report: exit status" 0 "$?"
expect_eq "nothing to report: message" "mxguard-check: no DMARC-evaluated transactions in $none" \
  "$(cat "$TB_DIR/none.stderr")"
expect_eq "nothing to report: no file" 0 "$(find "$TB_DIR/cwd" -type f | wc -l)"
(cd "$TB_DIR/cwd" && "$CHECK" --dmarc-report "$records" --org R --email d@receiver.example) \
  > /dev/null 2>&1
expect_eq "default output: the current directory" 2 "$(find "$TB_DIR/cwd" -name '*.xml' | wc -l)"

# Usage errors (64, like every other usage error of mxguard-check).
"$CHECK" --dmarc-report "$records" --org R > /dev/null 2> "$TB_DIR/usage1"
expect_eq "missing --email: exit status" 64 "$?"
check "missing --email: said" grep -q -- "--email" "$TB_DIR/usage1"
"$CHECK" --dmarc-report "$records" --email d@receiver.example > /dev/null 2>&1
expect_eq "missing --org: exit status" 64 "$?"
"$CHECK" --dmarc-report "$records" --org R --email d@receiver.example --day 2026-13-01 \
  > /dev/null 2> "$TB_DIR/usage2"
expect_eq "bad --day: exit status" 64 "$?"
check "bad --day: said" grep -q "2026-13-01" "$TB_DIR/usage2"
"$CHECK" --dmarc-report "$records" --org R --email nodomain > /dev/null 2>&1
expect_eq "--email without a domain: exit status" 64 "$?"

tb_summary
