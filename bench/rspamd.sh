# rspamd.sh - sourced by benchmarks after tests/testbed/testbed.sh: a private rspamd 3.4 (Debian 12)
# in milter mode, configured like mxguard's rbl/helo/rdns/spf/dkim/ratelimit stages (rbl on the
# same zones, spf, dkim verification, hfilter, ratelimit on Redis), resolving only through the
# test bed's nsd; plus write_bench_zones, extra DNSBL zones for nsd (mxguard and rspamd alike).
# Usage:   source tests/testbed/testbed.sh; source bench/rspamd.sh; tb_init
#          use_bench_zones 5   (optional, before start_nsd: serve bl1..bl5.bench.example too)
#          start_nsd; start_redis
#          RSPAMD_RBL_ZONES="dnsbl.example.net bl1.bench.example" start_rspamd unix:$TB_DIR/rspamd.sock
#          start_postfix "smtpd_milters = unix:$TB_DIR/rspamd.sock
#          milter_protocol = 6"
#          t0=$(rspamd_cpu_ticks); ...load...; t1=$(rspamd_cpu_ticks)   (stop_rspamd runs on EXIT)
# Transport: prefer unix:PATH. Over inet: rspamd 3.4's milter stalls ~40 ms a message (Nagle and
#          delayed ACK on its small replies), which measures TCP, not the filter.
# Knobs:   RSPAMD_RBL_ZONES (default "dnsbl.example.net"), RSPAMD_WORKERS (proxy processes,
#          default 2 = the 2 cores), RSPAMD_LOG_LEVEL (info: one line per message; debug),
#          RSPAMD_DEBUG_MODULES (e.g. "rbl spf": debug lines of those modules only).
# State:   RSPAMD_PID (main process), RSPAMD_PIDS (main + workers), RSPAMD_DIR, RSPAMD_LOG.
# Must not: read or write /etc/rspamd/local.d, override.d or the system's run/db/log dirs, bind
#          anything but SOCKET (no controller, normal or fuzzy worker), or resolve through any
#          server but 127.0.0.1:NSD_PORT.
# shellcheck shell=bash

RSPAMD_TEMPLATES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/rspamd"
RSPAMD_PID=""
RSPAMD_PIDS=""
RSPAMD_DIR=""
RSPAMD_LOG=""

# _rspamd_symbol ZONE: the rbl symbol for a zone, e.g. RBL_DNSBL_EXAMPLE_NET.
_rspamd_symbol() {
  local s=${1^^}
  s=${s//[^A-Z0-9]/_}
  echo "RBL_$s"
}

# _rspamd_socket_ok SOCKET: a connect to the milter socket succeeds now.
_rspamd_socket_ok() {
  case $1 in
    unix:*) [[ -S ${1#unix:} ]] && nc -U -z "${1#unix:}" 2>/dev/null ;;
    inet:*) local p=${1#inet:}; (exec 3<>"/dev/tcp/${p#*@}/${p%@*}") 2>/dev/null ;;
  esac
}

# start_rspamd SOCKET: SOCKET is inet:PORT@127.0.0.1 or unix:/path. Needs NSD_PORT (start_nsd);
# starts Redis when REDIS_PORT is unset. Returns when SOCKET accepts and every worker runs.
start_rspamd() {
  local socket=${1:?usage: start_rspamd inet:PORT@127.0.0.1|unix:/path} bind zone sym
  tb_require rspamd rspamadm nc
  stop_rspamd  # a second start replaces the first instance
  [[ -n "$NSD_PORT" ]] || { tb_log "start_rspamd: start_nsd first"; return 1; }
  if [[ -z "${REDIS_PORT:-}" ]]; then start_redis || return 1; fi
  case $socket in
    inet:*@*) bind="${socket#*@}:$(p=${socket#inet:}; echo "${p%@*}")" ;;
    unix:/*)
      bind="${socket#unix:} mode=0666"
      rm -f "${socket#unix:}"
      ;;
    *) tb_log "start_rspamd: bad socket '$socket'"; return 1 ;;
  esac
  local workers=${RSPAMD_WORKERS:-2} debug="" m
  for m in ${RSPAMD_DEBUG_MODULES:-}; do debug+="${debug:+, }\"$m\""; done
  RSPAMD_DIR="$TB_DIR/rspamd"
  RSPAMD_LOG="$RSPAMD_DIR/log/rspamd.log"
  local conf="$RSPAMD_DIR/conf"
  rm -rf "$RSPAMD_DIR"
  mkdir -p "$conf" "$RSPAMD_DIR/run" "$RSPAMD_DIR/db" "$RSPAMD_DIR/log" "$RSPAMD_DIR/tmp"
  : > "$conf/rbl_rules.inc"
  : > "$conf/rbl_scores.inc"
  echo "symbols {" >> "$conf/rbl_scores.inc"
  for zone in ${RSPAMD_RBL_ZONES:-dnsbl.example.net}; do
    sym=$(_rspamd_symbol "$zone")
    # The client IP only (checks = from), like mxguard's rbl stage; any A answer lists it.
    cat >> "$conf/rbl_rules.inc" <<EOF
"${sym,,}" {
  rbl = "$zone";
  symbol = "$sym";
  checks = ["from"];
  ipv4 = true;
  ipv6 = true;
  exclude_local = true;
  exclude_private_ips = true;
}
EOF
    printf '  "%s" { score = 20.0; description = "client listed in %s"; }\n' "$sym" "$zone" \
      >> "$conf/rbl_scores.inc"
  done
  echo "}" >> "$conf/rbl_scores.inc"
  sed -e "s|@RUN_DIR@|$RSPAMD_DIR/run|g" -e "s|@DB_DIR@|$RSPAMD_DIR/db|g" \
    -e "s|@LOG_DIR@|$RSPAMD_DIR/log|g" -e "s|@TMP_DIR@|$RSPAMD_DIR/tmp|g" \
    -e "s|@CONF_DIR@|$conf|g" -e "s|@NSD_PORT@|$NSD_PORT|g" -e "s|@REDIS_PORT@|$REDIS_PORT|g" \
    -e "s|@LOG_LEVEL@|${RSPAMD_LOG_LEVEL:-info}|g" -e "s|@BIND_SOCKET@|$bind|g" \
    -e "s|@PROXY_COUNT@|$workers|g" -e "s|@DEBUG_MODULES@|$debug|g" \
    "$RSPAMD_TEMPLATES/rspamd.conf.in" > "$conf/rspamd.conf"
  # Variables the stock includes and Lua code use point into our dir, never /etc/rspamd/local.d
  # nor /var/lib/rspamd. As root it needs --insecure (tests own their temp dirs, like mxguard's
  # --allow-root).
  local vars=("--var=LOCAL_CONFDIR=$conf" "--var=RUNDIR=$RSPAMD_DIR/run"
    "--var=DBDIR=$RSPAMD_DIR/db" "--var=LOGDIR=$RSPAMD_DIR/log")
  # rspamd 3.4 writes one hyperscan cache file to its compiled-in /var/lib/rspamd before it reads
  # hs_cache_dir: in a private mount namespace our db dir is bind-mounted there (the same PID:
  # unshare and sh exec), so nothing of the system's is touched. RSPAMD_NO_UNSHARE=1 skips it.
  local -a ns=()
  if [[ -z "${RSPAMD_NO_UNSHARE:-}" && -d /var/lib/rspamd ]] \
    && unshare -m --propagation private true 2>/dev/null; then
    # shellcheck disable=SC2016  # expanded by the inner sh
    ns=(unshare -m --propagation private sh -c 'mount --bind "$0" /var/lib/rspamd && exec "$@"'
      "$RSPAMD_DIR/db")
  fi
  if ! "${ns[@]}" rspamadm "${vars[@]}" configtest -c "$conf/rspamd.conf" \
    >"$RSPAMD_DIR/configtest.out" 2>&1; then
    tb_log "rspamd config rejected: $(cat "$RSPAMD_DIR/configtest.out")"
    return 1
  fi
  "${ns[@]}" rspamd -f -i -c "$conf/rspamd.conf" "${vars[@]}" >"$RSPAMD_DIR/log/stdout" 2>&1 &
  RSPAMD_PID=$!
  [[ " ${TB_CLEANUP_HOOKS[*]} " == *" stop_rspamd "* ]] || TB_CLEANUP_HOOKS+=(stop_rspamd)
  # Start-up takes ~20 s of CPU (it compiles the public-suffix list) before the workers fork.
  local i n
  for ((i = 0; i < 2400; i++)); do
    n=$(pgrep -c -P "$RSPAMD_PID" -f rspamd_proxy)
    if ((n >= workers)) && _rspamd_socket_ok "$socket"; then
      RSPAMD_PIDS="$RSPAMD_PID $(pgrep -P "$RSPAMD_PID" | tr '\n' ' ')"
      RSPAMD_PIDS=${RSPAMD_PIDS% }
      tb_log "rspamd on $socket (pids $RSPAMD_PIDS)"
      return 0
    fi
    kill -0 "$RSPAMD_PID" 2>/dev/null || break
    sleep 0.05
  done
  tb_log "rspamd did not start on $socket: $(tail -n 30 "$RSPAMD_LOG" "$RSPAMD_DIR/log/stdout" \
    2>/dev/null)"
  stop_rspamd
  return 1
}

# stop_rspamd: SIGTERM to the main process (it stops its workers), SIGKILL after 10 s; idempotent.
stop_rspamd() {
  [[ -n "$RSPAMD_PID" ]] || return 0
  tb_stop_tree "$RSPAMD_PID" 10
  RSPAMD_PID=""
  RSPAMD_PIDS=""
}

# rspamd_cpu_ticks: clock ticks (utime+stime, /proc/PID/stat fields 14+15) of the main process
# and every live child, plus the main process's cutime+cstime (16+17: workers that exited and
# were respawned). Children are looked up now, so a respawned worker is still counted.
rspamd_cpu_ticks() {
  [[ -n "$RSPAMD_PID" ]] || { echo 0; return 1; }
  local pid stat total=0 seen=0
  local -a f
  for pid in $RSPAMD_PID $(pgrep -P "$RSPAMD_PID"); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    # The command name may hold spaces and parentheses: split after the last ") ". f[0] is then
    # field 3 (state), so field N is f[N-3]: utime 11, stime 12, cutime 13, cstime 14.
    read -ra f <<<"${stat##*) }"
    total=$((total + f[11] + f[12] + f[13] + f[14]))
    seen=1
  done
  ((seen)) || { echo 0; return 1; }
  echo "$total"
}

# write_bench_zones DIR N: DIR/blK.bench.example.zone for K = 1..N, each an SOA, NS and a
# DNSBL listing 192.0.2.2 (127.0.0.2 + TXT) and the RFC 5782 test entry 127.0.0.2; every other
# name there is NXDOMAIN (what rspamd's monitored 1.0.0.127 probe expects to stay "alive").
write_bench_zones() {
  local dir=${1:?usage: write_bench_zones DIR N} n=${2:?usage: write_bench_zones DIR N} k
  mkdir -p "$dir" || return 1
  for ((k = 1; k <= n; k++)); do
    cat > "$dir/bl$k.bench.example.zone" <<EOF
; bl$k.bench.example - benchmark DNSBL $k of $n (bench/rspamd.sh write_bench_zones)
\$ORIGIN bl$k.bench.example.
\$TTL 300
@           SOA   ns.example.net. hostmaster.example.net. 1 3600 600 86400 60
@           NS    ns.example.net.
2.2.0.192   A     127.0.0.2
2.2.0.192   TXT   "Listed in bl$k.bench.example, see https://bl$k.bench.example/?ip=192.0.2.2"
2.0.0.127   A     127.0.0.2
2.0.0.127   TXT   "RFC 5782 test entry"
EOF
  done
}

# bench_zone_names N: "bl1.bench.example ... blN.bench.example" (for RSPAMD_RBL_ZONES or
# mxguard's zone = lines).
bench_zone_names() {
  local k out=""
  for ((k = 1; k <= $1; k++)); do out+="bl$k.bench.example "; done
  echo "${out% }"
}

# use_bench_zones N: before start_nsd - TB_ZONES_DIR becomes $TB_DIR/zones, holding copies of
# the test bed's zones plus write_bench_zones' N zones, so start_nsd serves them all.
use_bench_zones() {
  local n=${1:?usage: use_bench_zones N} dir="$TB_DIR/zones"
  mkdir -p "$dir" || return 1
  [[ "$TB_ZONES_DIR" == "$dir" ]] || cp "$TB_ZONES_DIR"/*.zone "$dir/" || return 1
  rm -f "$dir"/bl*.bench.example.zone
  write_bench_zones "$dir" "$n" && TB_ZONES_DIR=$dir
}
