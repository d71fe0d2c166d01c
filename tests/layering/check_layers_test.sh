#!/usr/bin/env bash
# check_layers_test.sh - the layering check passes on src/ as it is, and fails, naming file and
# line, on a copy of src/ with one planted climbing include, one sideways include, one stage room
# reaching into another, and one directory without a layer.
# Must not: change src/ (it plants into a temporary copy).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../src"
source "$here/../testbed/testbed.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$(python3 "$here/check_layers.py" "$src")
rc=$?
expect_eq "src/ as it is" "0 layering: ok" "$rc $(sed -E 's/[0-9]+ files, [0-9]+ includes, //' <<<"$out")"

plant() {  # NAME FILE LINE: a copy of src/ with LINE appended to FILE; prints the check's output
  rm -rf "$tmp/src" && cp -r "$src" "$tmp/src"
  mkdir -p "$(dirname "$tmp/src/$2")"
  printf '%s\n' "$3" >> "$tmp/src/$2"
  python3 "$here/check_layers.py" "$tmp/src"
}
line_of() { wc -l < "$src/$1" | tr -d ' '; }

n=$(( $(line_of core/session.cpp) + 1 ))
out=$(plant climb core/session.cpp '#include "stages/registry.h"'); rc=$?
expect_eq "climbing include fails" "1" "$rc"
expect_eq "climbing include named" \
  "core/session.cpp:$n: includes stages/registry.h: climbs from core (layer 1) to stages (layer 3)" \
  "$(head -n 1 <<<"$out")"

n=$(( $(line_of dns/caching_resolver.cpp) + 1 ))
out=$(plant sideways dns/caching_resolver.cpp '#include "store/store.h"'); rc=$?
expect_eq "sideways include fails" "1" "$rc"
expect_eq "sideways include named" \
  "dns/caching_resolver.cpp:$n: includes store/store.h: goes sideways between dns and store (one layer)" \
  "$(head -n 1 <<<"$out")"

n=$(( $(line_of stages/spf/spf_stage.cpp) + 1 ))
out=$(plant room stages/spf/spf_stage.cpp '#include "stages/dkim/dkim_tags.h"'); rc=$?
expect_eq "room into room fails" "1" "$rc"
expect_eq "room into room named" \
  "stages/spf/spf_stage.cpp:$n: includes stages/dkim/dkim_tags.h: stage room spf reaches into room dkim (shared code goes to the top of stages/)" \
  "$(head -n 1 <<<"$out")"

out=$(plant nolayer extra/thing.h '#pragma once'); rc=$?
expect_eq "directory without a layer fails" "1" "$rc"
expect_eq "directory without a layer named" "extra/thing.h:1: directory 'extra' has no layer in $here/check_layers.py" \
  "$(head -n 1 <<<"$out")"
tb_summary
