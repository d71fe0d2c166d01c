# sendmail.sh - sourced after testbed.sh by tests that run mxguard behind a real Sendmail: a
# private network namespace holding the test clients' addresses, a DNS server on its port 53 for
# Sendmail's own lookups, and a private Sendmail (unpacked from Debian's .debs by
# contrib/install-deps.sh --test) with the shipped contrib/sendmail/mxguard.mc.
# Must not: download anything, install sendmail, touch /etc or a system service outside the
# test's own namespaces, or leave a process behind (stop_sendmail runs from TB_CLEANUP_HOOKS).
#
# Usage:   source testbed.sh; source sendmail.sh; sm_enter_namespace "$@"   (re-runs the test)
#          tb_init; start_nsd; start_mxguard BIN POLICY; start_sendmail; sm_swaks ADDR ...
# State:   SENDMAIL_ROOT, SENDMAIL_PORT, SENDMAIL_DIR, SENDMAIL_OUT (its -D debug file),
#          SENDMAIL_TRAFFIC (-X transcript), SENDMAIL_MAIL (one mbox file per local part).
#
# Why a namespace: Sendmail has no XCLIENT, so the client address mxguard sees is the real peer
# address of the TCP connection. `unshare --net --mount --uts` gives the test its own loopback,
# where 192.0.2.x can be added to lo and swaks can bind to them (--local-interface); its own
# /etc/resolv.conf and /etc/hosts (bind mounts, visible only inside), because Sendmail resolves
# the client's PTR itself through the C library, which only talks to port 53; and its own host
# name (mx.example.net). Nothing outside changes, and the namespaces vanish with their last
# process, so nothing needs deleting even when the test is killed.
# shellcheck shell=bash

SENDMAIL_ROOT=${SENDMAIL_ROOT:-/var/cache/mxguard-test/sendmail/root}
SM_MC_SNIPPET="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/contrib/sendmail/mxguard.mc"
# The test clients (tests/testbed/zones): listed, percent, hostile, clean, no PTR, forged PTR.
SM_CLIENT_ADDRS=${SM_CLIENT_ADDRS:-"192.0.2.2 192.0.2.3 192.0.2.5 192.0.2.10 192.0.2.20 192.0.2.21"}
SENDMAIL_PID=""
SENDMAIL_PORT=""
SENDMAIL_DIR=""
SENDMAIL_OUT=""
SENDMAIL_TRAFFIC=""
SENDMAIL_MAIL=""
SM_DNS_PID=""

# sm_require: the unpacked package and the tools; exits 77 with what to run when one is missing.
sm_require() {
  [[ $(id -u) -eq 0 ]] || tb_skip "Sendmail in a private network namespace needs root"
  [[ -x "$SENDMAIL_ROOT/usr/libexec/sendmail/sendmail" \
    && -r "$SENDMAIL_ROOT/usr/share/sendmail/cf/m4/cf.m4" ]] \
    || tb_skip "no unpacked Sendmail in $SENDMAIL_ROOT; run: sudo contrib/install-deps.sh --test"
  tb_require m4 unshare mount ip hostname swaks nsd
}

# sm_enter_namespace ARGS...: outside the namespace, re-runs the calling script inside new
# network, mount and UTS namespaces (exec: its exit status is the test's); inside, sets them up.
sm_enter_namespace() {
  if [[ -z "${SM_IN_NAMESPACE:-}" ]]; then
    sm_require
    unshare --net --mount --uts --propagation private true 2>/dev/null \
      || tb_skip "unshare --net --mount --uts does not work here (no namespace support?)"
    # shellcheck disable=SC2093  # exec on purpose: the namespaced run is the test
    SM_IN_NAMESPACE=1 exec unshare --net --mount --uts --propagation private \
      bash "$(readlink -f "$0")" "$@"
  fi
  local addr
  ip link set lo up || { echo "FAIL: cannot bring up lo in the namespace"; exit 1; }
  for addr in $SM_CLIENT_ADDRS; do
    ip addr add "$addr/32" dev lo || { echo "FAIL: ip addr add $addr/32 dev lo"; exit 1; }
  done
  hostname mx.example.net
  # The C library's resolver (Sendmail's client lookups) asks 127.0.0.1:53: sm_start_dns.
  local etc
  etc=$(mktemp -d /tmp/mxguard-sendmail-etc.XXXXXX) || exit 1
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' > "$etc/resolv.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' > "$etc/hosts"
  chmod 644 "$etc/resolv.conf" "$etc/hosts"
  if ! mount --bind "$etc/resolv.conf" /etc/resolv.conf || ! mount --bind "$etc/hosts" /etc/hosts
  then
    rm -rf "$etc"
    echo "FAIL: cannot bind-mount resolv.conf/hosts in the namespace"
    exit 1
  fi
  # The mounts hold the files open; the directory itself can go now.
  rm -rf "$etc"
}

# sm_start_dns: a second nsd, the testbed's zones and configuration, on 127.0.0.1@53 of the
# namespace (start_nsd picks a free port; the C library cannot be told another port).
sm_start_dns() {
  local dir="$TB_DIR/nsd53"
  mkdir -p "$dir/xfr"
  sed -e "s|ip-address: .*|ip-address: 127.0.0.1@53|" \
    -e "s|zonelistfile: .*|zonelistfile: \"$dir/zone.list\"|" \
    -e "s|pidfile: .*|pidfile: \"$dir/nsd.pid\"|" \
    -e "s|xfrdfile: .*|xfrdfile: \"$dir/xfrd.state\"|" \
    -e "s|xfrdir: .*|xfrdir: \"$dir/xfr\"|" \
    -e "s|logfile: .*|logfile: \"$dir/nsd.log\"|" "$TB_DIR/nsd/nsd.conf" > "$dir/nsd.conf"
  nsd -d -c "$dir/nsd.conf" >"$dir/nsd.stdout" 2>&1 &
  SM_DNS_PID=$!
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -n "$(dig +short +time=1 +tries=1 @127.0.0.1 -p 53 example.net SOA 2>/dev/null)" ]] \
      && return 0
    kill -0 "$SM_DNS_PID" 2>/dev/null || break
    sleep 0.05
  done
  tb_log "nsd on 127.0.0.1@53 did not answer: $(cat "$dir/nsd.stdout" "$dir/nsd.log" 2>/dev/null)"
  return 1
}

sm_stop_dns() {
  [[ -n "$SM_DNS_PID" ]] || return 0
  local children child
  children=$(pgrep -P "$SM_DNS_PID" 2>/dev/null)
  kill -TERM "$SM_DNS_PID" 2>/dev/null
  wait_pid_gone "$SM_DNS_PID" 5 || kill -KILL "$SM_DNS_PID" 2>/dev/null
  wait "$SM_DNS_PID" 2>/dev/null
  for child in $children; do
    wait_pid_gone "$child" 2 || kill -KILL "$child" 2>/dev/null
  done
  SM_DNS_PID=""
}

# start_sendmail: sendmail.cf generated by m4 from the package's own cf/ tree and a private .mc
# that includes contrib/sendmail/mxguard.mc (S= pointed at MILTER_PORT), so the test runs the
# shipped lines through the real m4 macros rather than a hand-written cf that could drift from
# them. Daemon on 127.0.0.1:SENDMAIL_PORT in the foreground (-bD), interactive delivery (the
# message is in the mbox before the 250 to DATA), everything @TB_MAIL_DOMAIN to a "testbox"
# mailer that appends to SENDMAIL_MAIL/<local part>.
start_sendmail() {
  local cf="$SENDMAIL_ROOT/usr/share/sendmail/cf" bin="$SENDMAIL_ROOT/usr/libexec/sendmail/sendmail"
  TB_CLEANUP_HOOKS+=(stop_sendmail sm_stop_dns)
  sm_start_dns || return 1
  SENDMAIL_DIR="$TB_DIR/sendmail"
  SENDMAIL_OUT="$SENDMAIL_DIR/sendmail.out"
  SENDMAIL_TRAFFIC="$SENDMAIL_DIR/traffic"
  SENDMAIL_MAIL="$SENDMAIL_DIR/mail"
  mkdir -p "$SENDMAIL_DIR/mqueue" "$SENDMAIL_MAIL"
  chmod 700 "$SENDMAIL_DIR/mqueue"
  # The mailer runs as DefaultUser (nobody), like a real local delivery agent does not as root.
  local uid gid
  uid=$(id -u nobody) gid=$(id -g nobody)
  chown "$uid:$gid" "$SENDMAIL_MAIL"
  cat > "$SENDMAIL_DIR/deliver.sh" <<'EOF'
#!/bin/sh
# deliver.sh DIR LOCALPART - the test's local delivery agent: appends the message (with its
# "From " line, as sendmail writes for a local mailer) to DIR/LOCALPART, under flock.
# Must not: write anywhere but DIR.
set -eu
case "$2" in */*|.*|'') echo "bad local part" >&2; exit 67 ;; esac
exec 9>>"$1/$2"
flock 9
cat >&9
echo >&9
EOF
  chmod 755 "$SENDMAIL_DIR/deliver.sh"
  grep -q 'S=inet:10025@127.0.0.1,' "$SM_MC_SNIPPET" \
    || { tb_log "$SM_MC_SNIPPET has no 'S=inet:10025@127.0.0.1,' to point at the test's mxguard"; return 1; }
  sed "s|S=inet:10025@127.0.0.1,|S=inet:$MILTER_PORT@127.0.0.1,|" "$SM_MC_SNIPPET" \
    > "$SENDMAIL_DIR/mxguard.mc"
  SENDMAIL_PORT=$(free_port)
  cat > "$SENDMAIL_DIR/sendmail.mc" <<EOF
divert(-1)
dnl The test's Sendmail: everything private to $SENDMAIL_DIR, nothing read from /etc/mail.
divert(0)dnl
include(\`$cf/m4/cf.m4')dnl
VERSIONID(\`mxguard sendmail_test')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mx.example.net')dnl
define(\`confSMTP_LOGIN_MSG', \`\$j')dnl
undefine(\`confCW_FILE')dnl
undefine(\`confCR_FILE')dnl
define(\`confHOSTS_FILE', \`/etc/hosts')dnl
define(\`confHELP_FILE', \`$SENDMAIL_DIR/helpfile')dnl
define(\`STATUS_FILE', \`$SENDMAIL_DIR/statistics')dnl
define(\`confPID_FILE', \`$SENDMAIL_DIR/sendmail.pid')dnl
define(\`QUEUE_DIR', \`$SENDMAIL_DIR/mqueue')dnl
define(\`confDEF_USER_ID', \`$uid:$gid')dnl
define(\`confDELIVERY_MODE', \`interactive')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confDONT_BLAME_SENDMAIL', \`GroupWritableDirPathSafe')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confTO_CONNECT', \`5s')dnl
define(\`confTO_INITIAL', \`5s')dnl
define(\`confMAX_DAEMON_CHILDREN', \`20')dnl
define(\`confQUEUE_LA', \`100')dnl
define(\`confREFUSE_LA', \`100')dnl
undefine(\`ALIAS_FILE')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Port=$SENDMAIL_PORT, Addr=127.0.0.1, Name=MTA')dnl
RELAY_DOMAIN(\`$TB_MAIL_DOMAIN')dnl
include(\`$SENDMAIL_DIR/mxguard.mc')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MAILER_DEFINITIONS
Mtestbox, P=$SENDMAIL_DIR/deliver.sh, F=lsDFMEu9, S=EnvFromL/HdrFromL, R=EnvToL/HdrToL,
	T=DNS/RFC822/X-Unix, A=deliver.sh $SENDMAIL_MAIL \$u
LOCAL_RULE_0
R\$+ < @ $TB_MAIL_DOMAIN \$* >	\$#testbox \$@ $TB_MAIL_DOMAIN \$: \$1
EOF
  if ! m4 "$SENDMAIL_DIR/sendmail.mc" > "$SENDMAIL_DIR/sendmail.cf" 2>"$SENDMAIL_DIR/m4.err" \
    || [[ -s "$SENDMAIL_DIR/m4.err" ]]; then
    tb_log "m4 could not build sendmail.cf: $(cat "$SENDMAIL_DIR/m4.err")"
    return 1
  fi
  # -bD: daemon in the foreground (its pid is ours to stop); -X: SMTP transcript; -d64.5:
  # milter debugging into -D's file (not stdout: a connection child's stdout is the client's
  # socket), since there is no syslog here: this is Sendmail's log.
  "$bin" -bD -C "$SENDMAIL_DIR/sendmail.cf" -X "$SENDMAIL_TRAFFIC" -D "$SENDMAIL_OUT" -d64.5 \
    >"$SENDMAIL_DIR/sendmail.stdout" 2>&1 </dev/null &
  SENDMAIL_PID=$!
  if ! wait_port 127.0.0.1 "$SENDMAIL_PORT" 15; then
    tb_log "sendmail not listening on $SENDMAIL_PORT:" \
      "$(tail -20 "$SENDMAIL_DIR/sendmail.stdout" "$SENDMAIL_OUT" 2>/dev/null)"
    return 1
  fi
}

# stop_sendmail: SIGTERM to the daemon (it passes it on to its connection children), then
# SIGKILL to whatever is left of it and its children.
stop_sendmail() {
  [[ -n "$SENDMAIL_PID" ]] || return 0
  local children child
  children=$(pgrep -P "$SENDMAIL_PID" 2>/dev/null)
  kill -TERM "$SENDMAIL_PID" 2>/dev/null
  wait_pid_gone "$SENDMAIL_PID" 10 || kill -KILL "$SENDMAIL_PID" 2>/dev/null
  wait "$SENDMAIL_PID" 2>/dev/null
  for child in $children; do
    wait_pid_gone "$child" 2 || kill -KILL "$child" 2>/dev/null
  done
  SENDMAIL_PID=""
}

# sm_swaks ADDR ARGS...: swaks to the private Sendmail from the local address ADDR.
sm_swaks() {
  local addr=$1
  shift
  swaks --server 127.0.0.1 --port "$SENDMAIL_PORT" --local-interface "$addr" --timeout 30 \
    --hide-informational "$@" 2>&1
}

# sm_wait_delivery LOCALPART PATTERN [SECONDS]: the mbox of LOCALPART has a line with PATTERN.
sm_wait_delivery() {
  local box=$1 pattern=$2 secs=${3:-10} i
  for ((i = 0; i < secs * 20; i++)); do
    grep -qF -- "$pattern" "$SENDMAIL_MAIL/$box" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
