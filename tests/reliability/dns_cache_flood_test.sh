#!/usr/bin/env bash
# dns_cache_flood_test.sh - issue 28, finding 3: messages whose DKIM signatures point at 60 KB TXT
# records, each signature a new selector, replayed through `mxguard-check --replay` against the
# testbed nsd (a wildcard *._domainkey.flood.example.net TXT of 60,000 octets, served over TCP).
# Every answer is a new name, so mxguard's answer cache fills with 60 KB entries; with only an
# entry bound (20,000) the process grew to 1.2 GB. Asserts: every transaction got a verdict, the
# cache did fill (RSS grew by at least half of cache_megabytes: the keys were fetched and kept),
# and the peak RSS stays under the baseline plus cache_megabytes plus a margin for libunbound's
# own caches and the allocator.
# Short (CI): N=600 messages x 10 signatures (6,000 answers of 60 KB: 360 MB if unbounded).
# Long: MXGUARD_FLOOD_MESSAGES=5000 (50,000 answers, 3 GB if unbounded).
# Knobs: MXGUARD_FLOOD_CACHE_MB (default 64, written to the config), MXGUARD_FLOOD_MARGIN_MB
#        (default 48: libunbound's caches, the allocator; 128 for an ASan build).
# Must not: use any network beyond loopback, or leave a process or file behind (testbed traps EXIT).
set -uo pipefail
CHECK=${MXGUARD_FLOOD_CHECK_BIN:-${2:?usage: dns_cache_flood_test.sh MXGUARD MXGUARD-CHECK}}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"

tb_require python3 nsd nsd-checkconf dig
[[ -x "$CHECK" ]] || { echo "FAIL: $CHECK is not executable"; exit 1; }
N=${MXGUARD_FLOOD_MESSAGES:-600}
cache_mb=${MXGUARD_FLOOD_CACHE_MB:-64}
# An ASan build (the CI's) keeps freed blocks in its own caches and adds shadow memory: measured
# 175 MB peak for the short run where a plain build peaks at 82 MB, against 351 MB+ unbounded.
default_margin=48
grep -q __asan_init "$CHECK" && default_margin=128
margin_mb=${MXGUARD_FLOOD_MARGIN_MB:-$default_margin}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:quarantine_size_mb=4"
tb_init

# 240 character-strings of 250 octets: one TXT record of 60,000 octets (nsd's limit is 65,535).
TB_EXTRA_RECORDS="$TB_DIR/flood.records"
python3 - > "$TB_EXTRA_RECORDS" <<'PY'
s = " ".join('"' + "k" * 250 + '"' for _ in range(240))
print("*._domainkey.flood.example.net. 3600 IN TXT " + s)
PY
export TB_EXTRA_RECORDS
start_nsd || { echo "FAIL: nsd did not start"; exit 1; }
size=$(dig +tcp +short -p "$NSD_PORT" @127.0.0.1 TXT x._domainkey.flood.example.net | tr -d '" \n' | wc -c)
[[ "$size" -eq 60000 ]] && ok "nsd serves a 60,000-octet TXT record" || bad "TXT record of $size octets"

cat > "$TB_DIR/flood.conf" <<'P'
[engine]
stages = dkim
whitelist_clients =
[dkim]
on_failure = accept
timeout = 5s
max_signatures = 10
P
printf '[dns]\nforward = 127.0.0.1@%s\ncache_megabytes = %s\n' "$NSD_PORT" "$cache_mb" \
  > "$TB_DIR/mxguard.conf"

input="$TB_DIR/replay.jsonl"
python3 - "$N" > "$input" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    sigs = [["DKIM-Signature",
             "v=1; a=rsa-sha256; c=relaxed/relaxed; d=flood.example.net; s=s%d; h=from:subject; "
             "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA%d" % (i * 10 + j, j)]
            for j in range(10)]
    headers = sigs + [["From", "a@flood.example.net"], ["To", "user@example.org"],
                      ["Subject", "flood %d" % i], ["Date", "Mon, 30 Nov 2026 10:00:00 +0000"],
                      ["Message-ID", "<flood%d@flood.example.net>" % i]]
    print(json.dumps({"time": "2026-11-30T10:00:00Z", "queue_id": "F%X" % i,
                      "client_address": "192.0.2.10", "client_name": "mail.client.example.net",
                      "helo": "mail.client.example.net", "auth_user": "",
                      "sender": "a@flood.example.net", "recipients": ["user@example.org"],
                      "action": "accept", "reason": "", "reply": "", "headers": headers},
                     separators=(",", ":")))
PY

cmd=("$CHECK" --replay "$input" --policy "$TB_DIR/flood.conf" --config "$TB_DIR/mxguard.conf"
     --hostname mx.example.net)
echo "running: ${cmd[*]}"
start_ms=$(date +%s%3N)
"${cmd[@]}" > "$TB_DIR/out.txt" 2> "$TB_DIR/err.txt" &
pid=$!
TB_CLEANUP_HOOKS+=(flood_kill)
flood_kill() { [[ -n "${pid:-}" ]] && kill -KILL "$pid" 2>/dev/null; }
bash "$here/rss_sampler.sh" "$pid" "$TB_DIR/samples.txt" "$input" 0.2 &
sampler=$!
wait "$pid"
rc=$?
pid=""
wait "$sampler"
secs_ms=$(($(date +%s%3N) - start_ms))
echo "replay: $N messages ($((N * 10)) signatures, each a new 60 KB key) in $((secs_ms / 1000)) s"
[[ $rc -eq 0 ]] && ok "mxguard-check exited 0" || bad "mxguard-check exited $rc: $(head -c 2000 "$TB_DIR/err.txt")"
grep -q "^replay: $N transactions from " "$TB_DIR/out.txt" && ok "report: $N transactions" \
  || bad "report: $(head -3 "$TB_DIR/out.txt")"
head -6 "$TB_DIR/out.txt" | sed 's/^/    /'

# Baseline: the first sample once the input is open (the process is up, nothing cached yet).
read -r first peak last < <(awk '$2 > 0 { if (!f) f = $2; if ($2 > p) p = $2; l = $2 }
                                  END { print f + 0, p + 0, l + 0 }' "$TB_DIR/samples.txt")
bound=$((first + (cache_mb + margin_mb) * 1024))
echo "    RSS: first ${first} kB, peak ${peak} kB, last ${last} kB; bound ${bound} kB" \
  "(first + ${cache_mb} MB cache + ${margin_mb} MB margin; unbounded it would need $((N * 10 * 60 / 1024)) MB)"
((peak - first >= cache_mb * 512)) && ok "the cache filled: RSS grew by $(((peak - first) / 1024)) MB" \
  || bad "RSS grew by $(((peak - first) / 1024)) MB only: were the keys fetched?"
((peak > 0 && peak <= bound)) && ok "peak RSS $((peak / 1024)) MB <= $((bound / 1024)) MB" \
  || bad "peak RSS $((peak / 1024)) MB > $((bound / 1024)) MB"
tb_summary
