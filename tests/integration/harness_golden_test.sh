#!/usr/bin/env bash
# harness_golden_test.sh - mxguard-check transcripts diffed byte for byte against tests/golden:
# each NAME.in holds the harness arguments (one per line), NAME.ref the exact expected output
# followed by a line "exit N". The harness resolves through a real nsd serving the test zones.
# A line "#policy: PATH" in NAME.in picks another policy (relative to tests/).
# Regenerate after a deliberate change: UPDATE_GOLDEN=1 ctest -R harness_golden (then review).
# Must not: pass when a reference is missing.
set -uo pipefail
CHECK=$2
here="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tests/testbed/testbed.sh
source "$here/testbed/testbed.sh"
tb_init
start_nsd || exit 1
policy="$here/integration/policies/integration.conf"
cd "$here"  # .in files name message files relative to tests/
for input in "$here"/golden/*.in; do
  name=$(basename "$input" .in)
  mapfile -t args < <(grep -v '^#' "$input")
  # "#policy: PATH" (relative to tests/) runs that policy instead of integration.conf.
  own=$(sed -n 's/^#policy: *//p' "$input" | head -n 1)
  actual=$("$CHECK" --policy "${own:-$policy}" --dns "127.0.0.1@$NSD_PORT" --hostname mx.example.net "${args[@]}" 2>&1)
  actual+=$'\n'"exit $?"
  ref="$here/golden/$name.ref"
  if [[ -n "${UPDATE_GOLDEN:-}" ]]; then
    printf '%s\n' "$actual" > "$ref"
  fi
  if [[ -f "$ref" ]] && diff -u "$ref" <(printf '%s\n' "$actual") > "$TB_DIR/$name.diff"; then
    ok "$name"
  else
    bad "$name"
    cat "$TB_DIR/$name.diff" 2>/dev/null || echo "(no reference $ref)"
  fi
done
tb_summary && ((passed > 0))
