#!/usr/bin/env bash
# rss_sampler.sh PID OUT [FILE] [INTERVAL] - appends one line "MS RSS_KB POS" to OUT every
# INTERVAL seconds (default 1) until PID is gone: MS since the start, VmRSS from
# /proc/PID/status, and POS the offset of the process's descriptor open on FILE (from
# /proc/PID/fdinfo: how far a reader has read, or how far an O_APPEND log has grown), -1 when
# FILE is not given or not open (yet). rss_summary.py turns POS into progress.
# Must not: signal, trace or otherwise touch the process (read-only /proc reads), or run on after
# the process has exited.
set -uo pipefail
pid=${1:?usage: rss_sampler.sh PID OUT [FILE] [INTERVAL]}
out=${2:?usage: rss_sampler.sh PID OUT [FILE] [INTERVAL]}
file=${3:-}
interval=${4:-1}
[[ -n "$file" ]] && file=$(readlink -f "$file")
start=$(date +%s%3N)
fd=""

# find_fd: the descriptor number of PID open on FILE, or empty.
find_fd() {
  local link
  for link in /proc/"$pid"/fd/*; do
    [[ "$(readlink "$link" 2>/dev/null)" == "$file" ]] && { echo "${link##*/}"; return; }
  done
}

# Each /proc file is read whole in one go: bash's line-by-line `read` re-reads it from an offset,
# and /proc regenerates the text in between (a sample then misses VmRSS).
while { status=$(< /proc/"$pid"/status); } 2>/dev/null; do
  [[ "$status" =~ VmRSS:[[:space:]]+([0-9]+) ]] || break  # a zombie has no VmRSS
  rss=${BASH_REMATCH[1]}
  pos=-1
  if [[ -n "$file" ]]; then
    # The descriptor is looked up again when it no longer names FILE (closed, number reused).
    [[ -n "$fd" && "$(readlink /proc/"$pid"/fd/"$fd" 2>/dev/null)" == "$file" ]] || fd=$(find_fd)
    if [[ -n "$fd" ]] && { info=$(< /proc/"$pid"/fdinfo/"$fd"); } 2>/dev/null \
      && [[ "$info" =~ pos:[[:space:]]+([0-9]+) ]]; then
      pos=${BASH_REMATCH[1]}
    fi
  fi
  echo "$(($(date +%s%3N) - start)) $rss $pos" >> "$out"
  sleep "$interval"
done
