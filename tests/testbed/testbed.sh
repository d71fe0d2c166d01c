# testbed.sh - sourced by integration scripts: free loopback ports, a private nsd serving
# tests/testbed/zones, a private Postfix instance (own config, queue, log and Maildir delivery), the
# mxguard daemon; everything started here is stopped, and its temp dir removed, on EXIT.
# Must not: touch system services, /etc or a port it did not pick itself; leave the loopback.
#
# Usage:   source tests/testbed/testbed.sh; tb_init
#          start_nsd; start_mxguard BIN POLICY; start_postfix; tb_swaks ...; (all stop on EXIT)
#          start_redis / stop_redis (a private redis-server on REDIS_PORT).
# Results: ok MSG / bad MSG / expect_eq NAME WANT GOT print "ok: ..." / "FAIL: ..." lines and
#          count them in passed / failed; the script's last command is tb_summary.
# Extra:   TB_EXTRA_RECORDS=FILE before start_nsd appends FILE's records to example.net's zone;
#          TB_EXTRA_ZONES="NAME=FILE ..." before start_nsd serves more zones (a test's own);
#          TB_POSTFIX_EXTRA_MASTER (master.cf lines) before start_postfix adds services, e.g. a
#          second smtpd with "-o smtpd_milters=..." pointing at a second mxguard.
# State:   TB_DIR, NSD_PORT, MILTER_PORT, SMTP_PORT, MXGUARD_LOG, POSTFIX_LOG, POSTFIX_MAILDIR_BASE.
# shellcheck shell=bash

TB_ZONES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/zones"
TB_DIR=""
NSD_PORT=""
NSD_PID=""
MILTER_PORT=""
MXGUARD_PID=""
MXGUARD_LOG=""
SMTP_PORT=""
POSTFIX_CONF=""
POSTFIX_LOG=""
POSTFIX_MAILDIR_BASE=""
# Recipients Postfix delivers locally (virtual mailboxes); anything else in the domain is 550.
TB_MAIL_DOMAIN="example.org"
TB_MAILBOXES="user postmaster abuse"
TB_CLEANUP_HOOKS=()

tb_log() { echo "testbed: $*" >&2; }

# Prints the reason and exits 77 (ctest SKIP_RETURN_CODE): only for a missing prerequisite.
# In CI (CI=true) it fails instead: the README's test command installs every prerequisite, so a
# skip there would hide a missing install step.
tb_skip() {
  if [[ "${CI:-}" == true ]]; then
    echo "FAIL: $* (in CI: contrib/install-deps.sh --test installs it; a skip would hide that)"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}

tb_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x "$tool" ]] || tb_skip "'$tool' is not installed"
  done
}

# The assertions' results: one "ok: MSG" / "FAIL: MSG" line each (MSG: the arguments, joined by
# spaces), counted in passed / failed (a script may add counts of its own, e.g. of a sub-tool's
# "ok:"/"FAIL:" lines). tb_summary prints "N passed, N failed" and returns 0 only when none failed:
# the script's last command, so its exit status.
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
expect_eq() {  # NAME WANT GOT
  if [[ "$3" == "$2" ]]; then ok "$1: '$3'"; else bad "$1: expected '$2', got '$3'"; fi
}
tb_summary() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
}

tb_init() {
  TB_DIR=$(mktemp -d /tmp/mxguard-testbed.XXXXXX) || { echo "no temp dir" >&2; exit 1; }
  # Postfix daemons run as the postfix user and must traverse the directory.
  chmod 755 "$TB_DIR"
  trap tb_cleanup EXIT
  trap 'exit 130' INT TERM
}

tb_cleanup() {
  local rc=$?
  local hook
  for hook in "${TB_CLEANUP_HOOKS[@]}"; do "$hook"; done
  stop_postfix
  stop_mxguard
  stop_nsd
  if [[ -n "$TB_DIR" && -d "$TB_DIR" ]]; then
    if [[ $rc -ne 0 && -n "${TB_KEEP_ON_FAILURE:-}" ]]; then
      tb_log "keeping $TB_DIR for inspection"
    else
      rm -rf "$TB_DIR"
    fi
  fi
  return $rc
}

# free_port: a loopback port free for both TCP and UDP right now (the kernel picks it).
free_port() {
  python3 - <<'PY'
import socket
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    u.close()
    t.close()
    print(port)
    break
else:
    raise SystemExit("no free port")
PY
}

# wait_port HOST PORT [SECONDS]: until a TCP connect succeeds.
wait_port() {
  local host=$1 port=$2 secs=${3:-10} i
  for ((i = 0; i < secs * 20; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

# pid_running PID: the process exists and is not a zombie (an exited child of a process that is
# gone stays a zombie until init reaps it).
pid_running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z* ]]
}

# wait_pid_gone PID SECONDS: 0 when the process exited within the time.
wait_pid_gone() {
  local pid=$1 secs=$2 i
  for ((i = 0; i < secs * 20; i++)); do
    pid_running "$pid" || return 0
    sleep 0.05
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# nsd: authoritative for every tests/testbed/zones/<zone>.zone, on 127.0.0.1@NSD_PORT (UDP+TCP).

start_nsd() {
  tb_require nsd dig
  local dir="$TB_DIR/nsd" zone name
  mkdir -p "$dir/zones" "$dir/xfr"
  # A caller may preset NSD_PORT (the Sendmail test: port 53 of its own network namespace).
  [[ -n "$NSD_PORT" ]] || NSD_PORT=$(free_port)
  cat > "$dir/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "$dir/zones"
  zonelistfile: "$dir/zone.list"
  database: ""
  pidfile: "$dir/nsd.pid"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir/xfr"
  logfile: "$dir/nsd.log"
  server-count: 1
  reuseport: no
  verbosity: 1
  hide-version: yes
  rrl-ratelimit: 0
  refuse-any: no
remote-control:
  control-enable: no
EOF
  for zone in "$TB_ZONES_DIR"/*.zone; do
    name=$(basename "$zone" .zone)
    cp "$zone" "$dir/zones/"
    printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$name" "$name.zone" >> "$dir/nsd.conf"
  done
  # Records a test makes at run time (e.g. a DKIM key it generated), in example.net's zone.
  [[ -n "${TB_EXTRA_RECORDS:-}" ]] && cat "$TB_EXTRA_RECORDS" >> "$dir/zones/example.net.zone"
  # Whole zones a test writes at run time (e.g. sender domains that must be organisations of
  # their own for DMARC, which example.net's subdomains are not).
  local extra
  for extra in ${TB_EXTRA_ZONES:-}; do
    name=${extra%%=*}
    cp "${extra#*=}" "$dir/zones/$name.zone"
    printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$name" "$name.zone" >> "$dir/nsd.conf"
  done
  if ! nsd-checkconf "$dir/nsd.conf" >"$dir/checkconf.out" 2>&1; then
    tb_log "nsd.conf rejected: $(cat "$dir/checkconf.out")"
    return 1
  fi
  nsd -d -c "$dir/nsd.conf" >"$dir/nsd.stdout" 2>&1 &
  NSD_PID=$!
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -n "$(dig +short +time=1 +tries=1 @127.0.0.1 -p "$NSD_PORT" example.net SOA 2>/dev/null)" ]] \
      && return 0
    kill -0 "$NSD_PID" 2>/dev/null || break
    sleep 0.05
  done
  tb_log "nsd did not answer on 127.0.0.1@$NSD_PORT:" \
    "$(cat "$dir/nsd.stdout" "$dir/nsd.log" 2>/dev/null)"
  return 1
}

# tb_stop_tree PID SECONDS: SIGTERM to PID, SIGKILL after SECONDS; then its children (daemons
# such as nsd and Sendmail fork workers that must not outlive the test).
tb_stop_tree() {
  local pid=$1 secs=$2 children child
  children=$(pgrep -P "$pid" 2>/dev/null)
  kill -TERM "$pid" 2>/dev/null
  wait_pid_gone "$pid" "$secs" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  for child in $children; do
    wait_pid_gone "$child" 2 || kill -KILL "$child" 2>/dev/null
  done
}

stop_nsd() {
  [[ -n "$NSD_PID" ]] || return 0
  tb_stop_tree "$NSD_PID" 5  # nsd forks xfrd and server processes
  NSD_PID=""
}

# ---------------------------------------------------------------------------------------------
# Redis: start_redis on 127.0.0.1:REDIS_PORT (picked when unset), no persistence, log in TB_DIR;
# stop_redis kills it with SIGKILL (a crash: what outage tests want) and is run on EXIT. The pid
# is redis_pid (tests SIGSTOP it to simulate a hung server).
start_redis() {
  tb_require redis-server
  [[ -n "${REDIS_PORT:-}" ]] || REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --logfile "$TB_DIR/redis.log" &
  redis_pid=$!
  [[ " ${TB_CLEANUP_HOOKS[*]} " == *" stop_redis "* ]] || TB_CLEANUP_HOOKS+=(stop_redis)
  wait_port 127.0.0.1 "$REDIS_PORT" 10
}
stop_redis() {
  [[ -n "${redis_pid:-}" ]] || return 0
  kill -CONT "$redis_pid" 2>/dev/null
  kill -KILL "$redis_pid" 2>/dev/null
  wait "$redis_pid" 2>/dev/null
  redis_pid=""
}

# ---------------------------------------------------------------------------------------------
# mxguard: start_mxguard BIN POLICY [extra args...]; listens on MXGUARD_SOCKET when set (e.g.
# unix:$TB_DIR/mxguard.sock), else inet:MILTER_PORT@127.0.0.1; forwards DNS to nsd. Its stderr
# (one line per transaction) goes to MXGUARD_LOG. It runs as root with --allow-root (tests own
# their temp dirs); TB_MXGUARD_ALLOW_ROOT= (empty) leaves that out, e.g. for a test that passes
# --user. Without a --config among the extra args it gets --config '' (no file): the machine's
# SYSCONFDIR/mxguard/mxguard.conf, which the daemon reads by default, must not steer a test.

start_mxguard() {
  local bin=$1 policy=$2 socket arg
  shift 2
  local config=(--config '')
  for arg in "$@"; do [[ $arg == --config || $arg == --config=* || $arg == -c ]] && config=(); done
  if [[ -n "${MXGUARD_SOCKET:-}" ]]; then
    socket=$MXGUARD_SOCKET
  else
    [[ -n "$MILTER_PORT" ]] || MILTER_PORT=$(free_port)
    socket="inet:$MILTER_PORT@127.0.0.1"
  fi
  MXGUARD_LOG="$TB_DIR/mxguard.log"
  # The log is appended to by every daemon a test starts: wait for a new "listening on" line,
  # not for one an earlier daemon wrote (a restart would otherwise race the new listener).
  local seen now
  seen=$(grep -c "listening on" "$MXGUARD_LOG" 2>/dev/null)
  seen=${seen:-0}
  "$bin" --foreground ${TB_MXGUARD_ALLOW_ROOT---allow-root} --socket "$socket" --policy "$policy" \
    --dns "127.0.0.1@$NSD_PORT" --hostname mx.example.net "${config[@]}" "$@" 2>>"$MXGUARD_LOG" &
  MXGUARD_PID=$!
  local i
  for ((i = 0; i < 200; i++)); do
    now=$(grep -c "listening on" "$MXGUARD_LOG" 2>/dev/null)
    ((${now:-0} > seen)) && return 0
    kill -0 "$MXGUARD_PID" 2>/dev/null || break
    sleep 0.05
  done
  tb_log "mxguard did not start: $(cat "$MXGUARD_LOG")"
  return 1
}

# stop_mxguard: SIGTERM (libmilter may take ~5 s to notice), then SIGKILL. Returns the daemon's exit
# status, or 1 when it had to be killed; sanitizer reports in its log count as failure.
stop_mxguard() {
  [[ -n "$MXGUARD_PID" ]] || return 0
  local rc=0
  kill -TERM "$MXGUARD_PID" 2>/dev/null
  if wait_pid_gone "$MXGUARD_PID" 15; then
    wait "$MXGUARD_PID" 2>/dev/null
    rc=$?
  else
    tb_log "mxguard ignored SIGTERM for 15 s; killing it"
    kill -KILL "$MXGUARD_PID" 2>/dev/null
    wait "$MXGUARD_PID" 2>/dev/null
    rc=1
  fi
  MXGUARD_PID=""
  if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:" "$MXGUARD_LOG" 2>/dev/null; then
    tb_log "sanitizer report in the mxguard log"
    rc=1
  fi
  return $rc
}

# ---------------------------------------------------------------------------------------------
# Postfix: a private instance (postfix -c DIR) with smtpd on 127.0.0.1:SMTP_PORT, the milter at
# inet:127.0.0.1:MILTER_PORT, XCLIENT allowed from 127.0.0.1, and virtual Maildir delivery for
# TB_MAILBOXES@TB_MAIL_DOMAIN under POSTFIX_MAILDIR_BASE. Extra main.cf lines: $1 (optional).

# tb_master_cf PORT: the master.cf of a private Postfix instance, smtpd on 127.0.0.1:PORT (no
# chroot: the queue lives in a temp dir; postlog: maillog_file needs postlogd).
tb_master_cf() {
  cat <<EOF
127.0.0.1:$1 inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
virtual   unix  - n n -  - virtual
smtp      unix  - - n -  - smtp
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
}

start_postfix() {
  tb_require postfix postconf swaks
  [[ $(id -u) -eq 0 ]] || tb_skip "a private Postfix instance needs root"
  id postfix >/dev/null 2>&1 || tb_skip "no 'postfix' user"
  local extra=${1:-}
  local dir="$TB_DIR/postfix"
  POSTFIX_CONF="$dir/etc"
  POSTFIX_LOG="$dir/maillog"
  POSTFIX_MAILDIR_BASE="$dir/mail"
  mkdir -p "$POSTFIX_CONF" "$dir/queue" "$dir/data" "$POSTFIX_MAILDIR_BASE"
  chown postfix "$dir/data"
  # virtual(8) delivers as this uid; it refuses uid 0.
  local vuid vgid
  vuid=$(id -u nobody) vgid=$(id -g nobody)
  chown "$vuid:$vgid" "$POSTFIX_MAILDIR_BASE"
  SMTP_PORT=$(free_port)
  # IPv6 XCLIENT addresses are refused unless Postfix has IPv6 enabled.
  local inet_protocols=ipv4
  [[ -r /proc/net/if_inet6 ]] && inet_protocols=all
  local maps="" box
  for box in $TB_MAILBOXES; do maps+="$box@$TB_MAIL_DOMAIN=$box/, "; done
  cat > "$POSTFIX_CONF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.net
mydomain = example.net
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = $inet_protocols
mynetworks = 127.0.0.0/8
maillog_file = $POSTFIX_LOG
maillog_file_prefixes = $TB_DIR
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_milters = inet:127.0.0.1:$MILTER_PORT
milter_default_action = tempfail
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = $TB_MAIL_DOMAIN
virtual_mailbox_base = $POSTFIX_MAILDIR_BASE
virtual_mailbox_maps = inline:{ ${maps%, } }
virtual_uid_maps = static:$vuid
virtual_gid_maps = static:$vgid
alias_maps =
alias_database =
local_recipient_maps =
relayhost =
biff = no
smtputf8_enable = no
smtpd_banner = \$myhostname ESMTP
EOF
  # Extra lines replace what they name (postconf -e): a parameter given twice makes every Postfix
  # process log "overriding earlier entry" at start, and a burst of those fills postlogd's
  # datagram queue (net.unix.max_dgram_qlen, 10 here) while postlogd itself waits to log the
  # same warning: Postfix deadlocks.
  local line
  while IFS= read -r line; do
    [[ -n "${line// /}" ]] && postconf -c "$POSTFIX_CONF" -e "$line"
  done <<< "$extra"
  # No chroot: the queue lives in the temp dir. postlog: maillog_file needs postlogd.
  { tb_master_cf "$SMTP_PORT"; echo "${TB_POSTFIX_EXTRA_MASTER:-}"; } > "$POSTFIX_CONF/master.cf"
  if ! postfix -c "$POSTFIX_CONF" check >"$dir/check.out" 2>&1; then
    tb_log "postfix check failed: $(cat "$dir/check.out")"
    return 1
  fi
  if ! postfix -c "$POSTFIX_CONF" start >"$dir/start.out" 2>&1; then
    tb_log "postfix start failed: $(cat "$dir/start.out" "$POSTFIX_LOG" 2>/dev/null)"
    return 1
  fi
  if ! wait_port 127.0.0.1 "$SMTP_PORT" 15; then
    tb_log "postfix smtpd not listening on $SMTP_PORT:" \
      "$(cat "$dir/start.out" "$POSTFIX_LOG" 2>/dev/null)"
    return 1
  fi
}

stop_postfix() {
  [[ -n "$POSTFIX_CONF" ]] || return 0
  local pidfile="$TB_DIR/postfix/queue/pid/master.pid" pid=""
  [[ -r "$pidfile" ]] && pid=$(tr -dc 0-9 < "$pidfile")
  postfix -c "$POSTFIX_CONF" stop >/dev/null 2>&1
  if [[ -n "$pid" ]] && ! wait_pid_gone "$pid" 10; then
    postfix -c "$POSTFIX_CONF" abort >/dev/null 2>&1
    wait_pid_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null
  fi
  POSTFIX_CONF=""
}

# tb_swaks ARGS...: swaks against the private Postfix; transcript on stdout.
tb_swaks() {
  swaks --server 127.0.0.1 --port "$SMTP_PORT" --timeout 30 --hide-informational "$@" 2>&1
}

# tb_wait_delivery MAILBOX PATTERN [SECONDS]: path of the first delivered file in MAILBOX's Maildir
# whose content matches PATTERN (grep -F); fails when none arrives in time.
tb_wait_delivery() {
  local box=$1 pattern=$2 secs=${3:-10} i f
  for ((i = 0; i < secs * 20; i++)); do
    for f in "$POSTFIX_MAILDIR_BASE/$box/new"/*; do
      [[ -f "$f" ]] && grep -qF -- "$pattern" "$f" && { echo "$f"; return 0; }
    done
    sleep 0.05
  done
  return 1
}

# tb_wait_log FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN (grep -F); prints it.
tb_wait_log() {
  local file=$1 pattern=$2 secs=${3:-10} i
  for ((i = 0; i < secs * 20; i++)); do
    if grep -F -- "$pattern" "$file" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
