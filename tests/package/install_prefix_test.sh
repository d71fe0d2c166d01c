#!/usr/bin/env bash
# install_prefix_test.sh - `cmake --install` honours the prefix for every path (GNUInstallDirs):
# configured for /usr/local (the default) and for /usr as debian/rules does it, each install into
# a DESTDIR puts exactly the expected files under that prefix (configuration in
# /usr/local/etc/mxguard, or /etc/mxguard for /usr), and the installed unit, mxguard.conf and the
# daemon's compiled-in default (MXGUARD_SYSCONFDIR) name the installed paths. A re-install keeps
# an edited configuration file. Copies of /bin/true stand in for the two programs, so nothing is
# compiled.
# Must not: write outside its temp dir.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$src/tests/testbed/testbed.sh"  # ok, bad, expect_eq, tb_summary, tb_require
tb_require cmake
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# install_tree NAME CMAKE-ARGS...: configure into work/NAME, stand-in binaries, install into
# work/NAME.root; prints nothing, leaves the log in work/NAME.log.
install_tree() {
  local name=$1
  shift
  cmake -S "$src" -B "$work/$name" -DMXGUARD_TESTS=OFF "$@" > "$work/$name.log" 2>&1 || return 1
  cp /bin/true "$work/$name/mxguard" && cp /bin/true "$work/$name/mxguard-check"
  DESTDIR="$work/$name.root" cmake --install "$work/$name" >> "$work/$name.log" 2>&1
}

# check_tree NAME PREFIX CONFDIR UNITDIR LOGROTATEDIR
check_tree() {
  local name=$1 prefix=$2 confdir=$3 unitdir=$4 logrotatedir=$5 r="$work/$1.root" expected got unit
  expected=$(sort <<EOF
.$logrotatedir/mxguard
.$confdir/mxguard.conf
.$confdir/policy.conf
.$unitdir/mxguard.service
.$prefix/bin/mxguard-check
.$prefix/sbin/mxguard
.$prefix/share/doc/mxguard/README.md
.$prefix/share/doc/mxguard/mxguard.conf
.$prefix/share/doc/mxguard/policies/default.conf
.$prefix/share/doc/mxguard/policies/strict.conf
.$prefix/share/doc/mxguard/postfix-main.cf
.$prefix/share/doc/mxguard/sendmail.mc
.$prefix/share/man/man1/mxguard-check.1
.$prefix/share/man/man5/mxguard-policy.5
.$prefix/share/man/man5/mxguard.conf.5
.$prefix/share/man/man8/mxguard.8
EOF
)
  got=$(cd "$r" && find . \( -type f -o -type l \) | LC_ALL=C sort)
  if [[ "$got" == "$expected" ]]; then ok "$name: installed exactly the $(wc -l <<<"$expected") expected files"
  else bad "$name: installed files differ (< expected, > got): $(diff <(echo "$expected") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"; fi
  unit="$r$unitdir/mxguard.service"
  expect_eq "$name: unit ExecStartPre" "$prefix/sbin/mxguard --config $confdir/mxguard.conf --check-config" \
    "$(sed -n 's/^ExecStartPre=//p' "$unit" 2>/dev/null)"
  expect_eq "$name: unit ExecStart" "$prefix/sbin/mxguard --config $confdir/mxguard.conf --foreground" \
    "$(sed -n 's/^ExecStart=//p' "$unit" 2>/dev/null)"
  grep -q '@[A-Z_]*@' "$unit" && bad "$name: unit has unreplaced placeholders: $(grep -n '@[A-Z_]*@' "$unit")" \
    || ok "$name: no @PLACEHOLDER@ left in the unit"
  expect_eq "$name: mxguard.conf's policy" "policy = $confdir/policy.conf" \
    "$(grep -E '^policy *=' "$r$confdir/mxguard.conf" 2>/dev/null)"
  # Only the paths change: the installed files are the shipped ones with /etc/mxguard/ replaced.
  cmp -s <(sed "s|/etc/mxguard/|$confdir/|g" "$src/policies/default.conf") "$r$confdir/policy.conf" \
    && cmp -s <(sed "s|/etc/mxguard/|$confdir/|g" "$src/config/mxguard.conf") "$r$confdir/mxguard.conf" \
    && ok "$name: policy.conf and mxguard.conf are the shipped files with $confdir/" \
    || bad "$name: installed configuration differs from the shipped files beyond the paths"
  # The daemon's compiled-in default directory is the one the configuration is installed in.
  if grep -rqF -- "-DMXGUARD_SYSCONFDIR=\\\"${confdir%/mxguard}\\\"" "$work/$name/CMakeFiles" 2>/dev/null \
     || grep -rqF -- "MXGUARD_SYSCONFDIR=\"${confdir%/mxguard}\"" "$work/$name/CMakeFiles" 2>/dev/null; then
    ok "$name: the daemon is compiled with MXGUARD_SYSCONFDIR=${confdir%/mxguard}"
  else
    bad "$name: MXGUARD_SYSCONFDIR is not ${confdir%/mxguard}: $(grep -rhoE 'MXGUARD_SYSCONFDIR=[^ ]*' "$work/$name/CMakeFiles" | sort -u)"
  fi
}

if install_tree local; then ok "prefix /usr/local (default): configured and installed"
else bad "prefix /usr/local: $(tail -20 "$work/local.log")"; fi
check_tree local /usr/local /usr/local/etc/mxguard /usr/local/lib/systemd/system /usr/local/etc/logrotate.d
# A re-install keeps an edited configuration file and says so.
echo "# edited by the admin" >> "$work/local.root/usr/local/etc/mxguard/policy.conf"
DESTDIR="$work/local.root" cmake --install "$work/local" > "$work/local2.log" 2>&1
if [[ $(tail -1 "$work/local.root/usr/local/etc/mxguard/policy.conf") == "# edited by the admin" ]] \
   && grep -qF -- "-- Keeping existing: $work/local.root/usr/local/etc/mxguard/policy.conf" "$work/local2.log"; then
  ok "local: a re-install keeps the edited policy.conf and says so"
else bad "local: re-install: $(cat "$work/local2.log")"; fi

# As debian/rules configures it (dh_auto_configure adds more, e.g. CMAKE_INSTALL_SYSCONFDIR=/etc).
if install_tree debian -DCMAKE_INSTALL_PREFIX=/usr -DMXGUARD_SYSTEMD_UNITDIR=/lib/systemd/system; then
  ok "prefix /usr (debian/rules): configured and installed"
else bad "prefix /usr: $(tail -20 "$work/debian.log")"; fi
check_tree debian /usr /etc/mxguard /lib/systemd/system /etc/logrotate.d
tb_summary
