#!/usr/bin/env bash
# run.sh - the benchmark: one run on one machine drives the same load through each setup and
# writes a table (markdown and JSON) of medians over interleaved rounds, with the ratios:
#   postfix          Postfix alone, delivering to the discard transport
#   null             + a null milter (libmilter, every callback, each "continue")
#   null-header      + the null milter also inserting one Authentication-Results field, as
#                    mxguard does: what applying that edit costs the MTA, in the baseline
#   null-noreply     + the null milter, told by the MTA it need not answer each header and body
#                    chunk, nor DATA on a unix socket (SMFIP_NR_HDR, _BODY, _DATA), as mxguard
#                    asks: the protocol's ceiling
#                    for a milter that answers only where an answer can change the SMTP reply
#   dkim-floor       + the null milter verifying each message's DKIM signature with libopendkim
#                    (and adding the same field): the floor for any filter built on that library
#   mxguard-default  + mxguard, policies/default.conf
#   mxguard-all      + mxguard, every stage (rbl on 5 zones, helo, rdns, behaviour, ratelimit in
#                    memory, spf, callout answered from its cache, greylist with the client
#                    auto-allowed, headers, dkim, dmarc)
#   mxguard-all-maps  mxguard-all with [access] maps consulted on every message: a cidr map of
#                    100,000 networks (clients) and an address map of 100,000 addresses
#                    (recipients), neither matching (bench/fixtures.sh: all_maps_policy); the
#                    report gives its throughput, CPU and instructions as a ratio to mxguard-all
#   mxguard-all-redis  the same with ratelimit and the callout cache on Redis
#   mxguard-all-without-dmarc  mxguard-all without its last stage, dmarc: what dmarc adds
#   rspamd           + rspamd (Debian's package, proxy worker in milter mode), bench/rspamd.sh
# The client is smtp-source in a network namespace of its own at 198.18.0.1 (a real outside
# address, forward-confirmed by the test zones: no XCLIENT, and no filter treats it as local), sending a DKIM-signed message from a
# sender whose SPF passes; DNS is the test bed's nsd (every zone any filter asks about is served),
# warmed before measuring. Per setup: msg/s with SESSIONS sessions, CPU seconds of the filter's
# processes per 1,000 messages, and ms per message with one session at a time.
# Usage: bench/run.sh BUILD_DIR [--messages N] [--sessions S] [--rounds R] [--serial M]
#                    [--out DIR] [--only "setup ..."] [--transport unix|inet] [--smoke]
#                    [--callgrind]
#   --callgrind  runs each milter under valgrind --tool=callgrind and reports instructions per
#                message over one round (counted from zero after the warm-up to the end of the
#                serial run), libmilter and every thread included: the repeatable counterpart of
#                the CPU column (Postfix alone and rspamd are left out). Defaults then: 200
#                messages, 4 sessions, 50 serial, 1 round.
# Must not: run in CI except as --smoke (tiny load; checks that every setup runs and reports).
set -uo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [options]}" && pwd)
shift
messages="" sessions="" rounds="" serial="" out="" only="" transport=unix smoke=0 callgrind=0
while (($#)); do
  case $1 in
    --messages) messages=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --serial) serial=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --smoke) smoke=1 messages=60 sessions=5 rounds=1 serial=10; shift ;;
    --callgrind) callgrind=1; shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
if ((callgrind)); then
  messages=${messages:-200} sessions=${sessions:-4} rounds=${rounds:-1} serial=${serial:-50}
else
  messages=${messages:-3000} sessions=${sessions:-20} rounds=${rounds:-3} serial=${serial:-300}
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/tests/testbed/testbed.sh"
source "$here/bench/fixtures.sh"
tb_init
tb_require smtp-source postconf ip dkimsign openssl python3
((callgrind)) && tb_require valgrind callgrind_control
[[ $(id -u) -eq 0 ]] || tb_skip "the benchmark needs root (network namespace, private Postfix)"
out=${out:-$TB_DIR/results}
mkdir -p "$out"
log() { echo "bench: $*" >&2; }

bench_fixtures || exit 1

# ---- the client's network namespace: 198.18.0.1 (client) <-> 198.18.0.254 (Postfix) ----
# Not 192.0.2.0/24: the test zones use it, but it can be a real network (here: eth0's and its
# gateway's); 198.18.0.0/15 is for benchmarks (RFC 2544) and the zones give it PTRs.
ns="mxbench$$"
# A run killed with SIGKILL leaves its namespace and address behind, which misroutes ours.
for stale in $(ip netns list | awk '/^mxbench[0-9]+/ {print $1}'); do
  kill -0 "${stale#mxbench}" 2>/dev/null && continue
  ip netns del "$stale"; ip link del "vh${stale#mxbench}" 2>/dev/null
done
ip netns add "$ns" || tb_skip "cannot create a network namespace"
remove_ns() { ip netns del "$ns" 2>/dev/null; ip link del "vh$$" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(remove_ns)
ip link add "vh$$" type veth peer name "vc$$" &&
  ip link set "vc$$" netns "$ns" &&
  ip addr add 198.18.0.254/24 dev "vh$$" && ip link set "vh$$" up &&
  ip netns exec "$ns" ip addr add 198.18.0.1/24 dev "vc$$" &&
  ip netns exec "$ns" ip link set "vc$$" up && ip netns exec "$ns" ip link set lo up ||
  tb_skip "cannot set up the veth pair"

# ---- the filters ----
REDIS_PORT=$(free_port)
start_redis || exit 1
start_callout_target || exit 1

socket_for() {  # SETUP -> the milter socket it listens on
  if [[ $transport == unix ]]; then echo "unix:$TB_DIR/$1.sock"; else echo "inet:$(free_port)@127.0.0.1"; fi
}
postfix_socket() {  # libmilter "inet:PORT@HOST" -> Postfix "inet:HOST:PORT"
  case $1 in unix:*) echo "$1" ;; inet:*) local p=${1#inet:}; echo "inet:${p#*@}:${p%@*}" ;; esac
}
declare -A SOCKET PIDS METRICS_PORT
all_policy > "$TB_DIR/all.conf"
# Postfix's smtpd (user postfix) must reach the unix sockets: through the temp dir, by group.
chmod 711 "$TB_DIR"
printf 'socket_group = postfix\n[store]\nbackend = memory\n' > "$TB_DIR/memory.conf"
printf 'socket_group = postfix\n[store]\nbackend = redis\nredis = 127.0.0.1:%s\n' "$REDIS_PORT" > "$TB_DIR/redis.conf"

# Under --callgrind each milter runs in valgrind, which starts it ~50 times slower.
under() {  # SETUP COMMAND...: runs COMMAND, in valgrind under --callgrind
  local s=$1
  shift
  if ((callgrind)); then
    exec valgrind --tool=callgrind --callgrind-out-file="$TB_DIR/callgrind.$s.%p" "$@"
  else
    exec "$@"
  fi
}
wait_listening() {  # SETUP PATTERN: until its log says it listens
  local tries=100
  ((callgrind)) && tries=1200
  for _ in $(seq $tries); do grep -q "$2" "$TB_DIR/$1.log" && return 0; sleep 0.05; done
  log "$1 did not start: $(cat "$TB_DIR/$1.log")"
  return 1
}
start_filter() {  # SETUP
  local s=$1 sock
  sock=$(socket_for "$s")
  SOCKET[$s]=$sock
  case $s in
    postfix) SOCKET[$s]="" ;;
    null | null-header | null-noreply)
      local extra=""
      [[ $s == null-header ]] && extra=--add-header
      [[ $s == null-noreply ]] && extra=--no-reply
      (under "$s" "$build/mxguard-null-milter" "$sock" $extra) 2> "$TB_DIR/$s.log" &
      PIDS[$s]=$!
      wait_listening "$s" listening || return 1 ;;
    dkim-floor)
      printf '%s\n' "$txt" > "$TB_DIR/key.record"  # bench_fixtures' key record
      (under "$s" "$build/mxguard-dkim-floor-milter" "$sock" "$TB_DIR/key.record") 2> "$TB_DIR/$s.log" &
      PIDS[$s]=$!
      wait_listening "$s" listening || return 1 ;;
    mxguard-*)
      local policy=$TB_DIR/all.conf conf=$TB_DIR/memory.conf
      [[ $s == mxguard-default ]] && policy=$here/policies/default.conf
      [[ $s == mxguard-all-redis ]] && conf=$TB_DIR/redis.conf
      if [[ $s == mxguard-all-maps ]]; then
        policy=$TB_DIR/all-maps.conf
        all_maps_policy > "$policy" || { log "$s: the access maps were not written"; return 1; }
      fi
      if [[ $s == mxguard-all-without-dmarc ]]; then
        policy=$TB_DIR/all-without-dmarc.conf
        sed 's/^\(stages = .*\) dmarc$/\1/' "$TB_DIR/all.conf" > "$policy"
      fi
      # Its metrics (latency per phase and per dependency) are saved at the end: $out/metrics-SETUP.txt
      METRICS_PORT[$s]=$(free_port)
      { cat "$conf"; printf '[metrics]\nlisten = 127.0.0.1:%s\n' "${METRICS_PORT[$s]}"; } > "$TB_DIR/$s.conf"
      conf=$TB_DIR/$s.conf
      (under "$s" "$build/mxguard" --foreground --allow-root --socket "$sock" --policy "$policy" \
        --config "$conf" --dns "127.0.0.1@$NSD_PORT" --hostname mx.example.net) \
        2> "$TB_DIR/$s.log" &
      PIDS[$s]=$!
      wait_listening "$s" "listening on" || return 1 ;;
    rspamd)
      ((callgrind)) && { log "rspamd: not measured under --callgrind (a process per worker)"; return 1; }
      [[ -r "$here/bench/rspamd.sh" ]] && command -v rspamd > /dev/null || { log "rspamd: not installed, skipped"; return 1; }
      source "$here/bench/rspamd.sh"
      RSPAMD_RBL_ZONES="bl1.bench.example bl2.bench.example bl3.bench.example bl4.bench.example bl5.bench.example" \
        start_rspamd "$sock" || { log "rspamd did not start"; return 1; }
      PIDS[$s]="${RSPAMD_PIDS:-}" ;;
  esac
}
stop_filters() {
  local s
  for s in "${!PIDS[@]}"; do
    [[ $s == rspamd ]] && { stop_rspamd 2>/dev/null; continue; }
    kill -TERM ${PIDS[$s]} 2>/dev/null
  done
  sleep 1
  for s in "${!PIDS[@]}"; do [[ $s == rspamd ]] || kill -KILL ${PIDS[$s]} 2>/dev/null; done
}
TB_CLEANUP_HOOKS+=(stop_filters)
# cpu_ticks SETUP: utime+stime (+ children's) of the filter's processes (threads included).
cpu_ticks() {
  local s=$1 pid total=0
  [[ $s == rspamd ]] && { rspamd_cpu_ticks; return; }
  for pid in ${PIDS[$s]:-}; do
    [[ -r /proc/$pid/stat ]] || continue
    total=$((total + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat")))
  done
  echo "$total"
}

setups="postfix null null-header null-noreply dkim-floor mxguard-default mxguard-all-without-dmarc mxguard-all mxguard-all-maps mxguard-all-redis rspamd"
((callgrind)) && setups="null null-header null-noreply dkim-floor mxguard-default mxguard-all-without-dmarc mxguard-all mxguard-all-maps mxguard-all-redis"
[[ -n "$only" ]] && setups=$only
running=""
for s in $setups; do
  if start_filter "$s"; then running+=" $s"; else log "setup $s skipped"; fi
done

# ---- Postfix: smtpd on 198.18.0.254 for the namespace, discard delivery ----
# No peer name lookup: Postfix would ask the system's resolver (not the test bed's) about 198.18.0.1.
BENCH_PORT=$(free_port)
export TB_POSTFIX_EXTRA_MASTER="198.18.0.254:$BENCH_PORT inet n - n - - smtpd"
MILTER_PORT=$(free_port)  # unused: each setup sets smtpd_milters itself
start_postfix "$(printf '%s\n' "inet_interfaces = 127.0.0.1, 198.18.0.254" "virtual_transport = discard:benchmark" "smtpd_peername_lookup = no" \
  "default_process_limit = 200" "smtpd_milters =" "milter_protocol = 6" \
  "milter_default_action = tempfail" "smtpd_client_connection_count_limit = 0" \
  "smtpd_client_connection_rate_limit = 0" "smtpd_client_message_rate_limit = 0")" || exit 1
use_setup() {  # point Postfix's smtpd at the setup's milter
  local m=""
  [[ -n "${SOCKET[$1]}" ]] && m=$(postfix_socket "${SOCKET[$1]}")
  postconf -c "$POSTFIX_CONF" -e "smtpd_milters = $m"
  postfix -c "$POSTFIX_CONF" reload > /dev/null 2>&1
  sleep 1
}
discarded() {
  local n
  n=$(grep -c "status=sent (benchmark)" "$POSTFIX_LOG" 2>/dev/null)
  echo "${n:-0}"
}
wait_discarded() {  # COUNT: until the log shows that many discards (or 60 s)
  for _ in $(seq 600); do (( $(discarded) >= $1 )) && return 0; sleep 0.1; done
  return 1
}
source_run() {  # SESSIONS MESSAGES -> elapsed seconds on stdout; fails when not all were accepted
  local before start end
  before=$(discarded)
  start=$(date +%s%N)
  ip netns exec "$ns" smtp-source -s "$1" -m "$2" -F "$TB_DIR/message.eml" -f "$sender" \
    -t "$rcpt" -M load.client.example.net "198.18.0.254:$BENCH_PORT" 2> "$TB_DIR/source.err" || return 1
  end=$(date +%s%N)
  if ! wait_discarded $((before + $2)); then
    log "only $(( $(discarded) - before )) of $2 messages delivered: $(tail -3 "$POSTFIX_LOG")"
    return 1
  fi
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'
}

# Warm-up per setup: DNS caches, the callout cache, the DKIM key; and a check that the message is
# accepted at all (a filter that rejects it would measure nothing).
rows="$out/rows.jsonl"
: > "$rows"
hz=$(getconf CLK_TCK)
for s in $running; do
  use_setup "$s"
  source_run 2 20 > /dev/null || { log "$s: warm-up failed; setup dropped"; running=${running/ $s/}; }
done
log "setups: $running; $rounds rounds of $messages messages, $sessions sessions; $serial serial"
for ((r = 1; r <= rounds; r++)); do
  for s in $running; do
    use_setup "$s"
    ((callgrind)) && callgrind_control --zero "${PIDS[$s]}" > /dev/null
    c0=$(cpu_ticks "$s")
    t=$(source_run "$sessions" "$messages") || { log "$s round $r failed"; continue; }
    c1=$(cpu_ticks "$s")
    t1=$(source_run 1 "$serial") || { log "$s serial round $r failed"; continue; }
    instructions=null
    if ((callgrind)); then  # the dump holds what ran since the zeroing: this round's messages
      callgrind_control --dump="round $r" "${PIDS[$s]}" > /dev/null
      instructions=$(sed -n 's/^summary: *//p' "$TB_DIR/callgrind.$s.${PIDS[$s]}.$r" 2> /dev/null | head -n 1)
      [[ -n "$instructions" ]] || { log "$s round $r: no callgrind dump"; continue; }
    fi
    printf '{"setup":"%s","round":%d,"messages":%d,"seconds":%s,"cpu_ticks":%d,"hz":%d,"serial_messages":%d,"serial_seconds":%s,"instructions":%s}\n' \
      "$s" "$r" "$messages" "$t" $((c1 - c0)) "$hz" "$serial" "$t1" "$instructions" >> "$rows"
    log "$s round $r: $(echo "scale=1; $messages / $t" | bc) msg/s, $(echo "scale=2; 1000 * $t1 / $serial" | bc) ms/msg serial"
  done
done
for s in "${!METRICS_PORT[@]}"; do
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:${METRICS_PORT[$s]}/metrics" > "$out/metrics-$s.txt" 2> /dev/null || log "$s: no metrics"
done
machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(uname -r)"
((callgrind)) && machine+=", $(valgrind --version) (instructions only: times under valgrind mean nothing)"
python3 "$here/bench/report.py" "$rows" "$out" "$machine" "smtp-source -s $sessions -m $messages (and -s 1 -m $serial), $rounds rounds, milters on $transport sockets" || exit 1
cat "$out/results.md"
if ((smoke)); then
  # The smoke run's test: every setup reported a number (rspamd only where it is installed).
  for s in $setups; do
    [[ $s == rspamd ]] && ! command -v rspamd > /dev/null && continue
    grep -q "\"setup\":\"$s\"" "$rows" || { echo "FAIL: $s reported nothing"; exit 1; }
  done
  echo "ok: smoke run: every setup ran and reported ($running)"
fi
