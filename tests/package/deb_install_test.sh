#!/usr/bin/env bash
# deb_install_test.sh - the Debian package end to end: builds mxguard_VERSION_ARCH.deb from this
# tree (tests/package/build_deb.sh: dpkg-buildpackage in a copy), checks it with lintian (an error
# fails) and by its contents and maintainer scripts, then installs it with apt into a clean
# Debian root made by debootstrap (minbase, so apt must find every dependency) and, in that root:
# the user, conffiles, unit (enabled, not started) and --check-config; runs the unit's ExecStartPre
# and ExecStart as user mxguard with /run/mxguard made as RuntimeDirectory= would; installs
# Postfix ("No configuration"), puts postfix in group mxguard and gives it the packaged
# postfix-main.cf, so its smtpd reaches the milter socket; swaks (from outside, over a loopback
# port) sees a clean client accepted and delivered and a listed client refused with the exact
# reply, the blocklist served by a private nsd (the packaged policy's zone pointed at it); an
# upgrade (the same .deb again) with stand-ins for systemctl and deb-systemd-invoke: try-restart
# when the new binary accepts the configuration, no restart and a FILE:LINE warning when not;
# then apt-get remove (stopped; conffiles and user stay) and purge (nothing of the package's
# stays but the user and group, which are kept on purge, as opendkim's are).
# Caches (MXGUARD_TEST_CACHE, default /var/cache/mxguard-test): the debootstrap root as a tarball
# per suite, mirror and week; the .debs apt fetched into the root; the built .deb under the key of
# its inputs (build_deb.sh --key: the tree's files, build options, installed packages' versions),
# so an identical tree is not built twice; MXGUARD_DEB_REBUILD=1 builds anyway, and
# MXGUARD_DEB_FILE=PATH tests that .deb instead of building one.
# Runs in its own mount and pid namespaces (unshare): the root's mounts and every process started
# in it end with the test, even when it is killed.
# Must not: touch the machine's own services, /etc or packages (everything happens in the root),
# use the network beyond loopback and the Debian archive, or leave the root behind.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$src/tests/testbed/testbed.sh"
CACHE=${MXGUARD_TEST_CACHE:-/var/cache/mxguard-test}

# ---- prerequisites, then the namespaces -------------------------------------------------------
if [[ "${MXGUARD_DEB_TEST_NS:-}" != 1 ]]; then
  [[ $(id -u) -eq 0 ]] || tb_skip "debootstrap, chroot and mounts need root"
  tb_require debootstrap chroot unshare mount umount python3 nsd nsd-checkconf dig swaks
  if [[ -z "${MXGUARD_DEB_FILE:-}" ]]; then
    tb_require dpkg-buildpackage dh dpkg-checkbuilddeps lintian
    unmet=$(cd "$src" && DEB_BUILD_PROFILES=nocheck dpkg-checkbuilddeps 2>&1) \
      || tb_skip "unmet build dependencies (contrib/install-deps.sh installs them): ${unmet#*: }"
  else
    tb_require lintian
  fi
  unshare --mount --pid --fork --kill-child true 2>/dev/null \
    || tb_skip "unshare cannot make mount and pid namespaces here"
  exec unshare --mount --pid --fork --kill-child --mount-proc --propagation private \
    env MXGUARD_DEB_TEST_NS=1 bash "$0" "$@"
fi

t0=$SECONDS
phase() { echo "== $* (at $((SECONDS - t0)) s)"; }
tb_init
root="$TB_DIR/root"
work="$TB_DIR/work"
mkdir -p "$work" "$CACHE"
# project(mxguard VERSION X.Y.Z ...) in CMakeLists.txt, possibly spread over lines.
version=$(tr '\n' ' ' < "$src/CMakeLists.txt" | grep -oE 'project\([[:space:]]*mxguard[^)]*\)' \
          | grep -oE 'VERSION[[:space:]]+[0-9][0-9.]*' | awk '{ print $2 }')
arch=$(dpkg --print-architecture)

# retry CMD...: CMD, and once more after 5 s if it fails (a download from the archive can fail
# for a moment).
retry() { "$@" || { sleep 5; "$@"; }; }
# in_root CMD...: CMD inside the root, with a clean environment.
in_root() {
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
# "${as_mxguard[@]}" CMD...: CMD inside the root as user mxguard with its groups, no new
# privileges and UMask=0027, the way the unit's User=/Group=/NoNewPrivileges=/UMask= run ExecStart;
# every step execs the next, so a background job's $! is the daemon's pid.
as_mxguard=(chroot "$root" setpriv --reuid=mxguard --regid=mxguard --init-groups --no-new-privs
            env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 sh -c 'umask 0027; exec "$@"' sh)

# save_apt_cache: the .debs apt fetched into the root, kept for the next run (only those: older
# versions go).
apt_cache="$CACHE/apt-archives"
save_apt_cache() {
  [[ -d "$root/var/cache/apt/archives" ]] || return 0
  mkdir -p "$apt_cache"
  local f
  for f in "$root"/var/cache/apt/archives/*.deb; do
    [[ -f "$f" && ! -f "$apt_cache/${f##*/}" ]] && cp "$f" "$apt_cache/"
  done
  for f in "$apt_cache"/*.deb; do
    [[ -f "$f" && ! -f "$root/var/cache/apt/archives/${f##*/}" ]] && rm -f "$f"
  done
  return 0
}

# root_pids: the processes whose root directory is the chroot.
root_pids() {
  local p
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/root" 2>/dev/null)" == "$root" ]] && echo "${p#/proc/}"
  done
}
# cleanup_root: every process whose root is the chroot, the mounts under it, then the root.
cleanup_root() {
  [[ -d "$root" ]] || return 0
  [[ -x "$root/usr/sbin/postfix" && -e "$root/etc/postfix/main.cf" ]] \
    && in_root postfix abort >/dev/null 2>&1
  local p m
  for p in $(root_pids); do kill -KILL "$p" 2>/dev/null; done
  while read -r m; do
    umount -l "$m" 2>/dev/null
  done < <(findmnt -rn -o TARGET | grep -F "$root" | sort -r)
  if findmnt -rn -o TARGET | grep -qF "$root"; then
    tb_log "still mounted under $root; not removing it"
    return 0
  fi
  rm -rf --one-file-system "$root"
}
TB_CLEANUP_HOOKS+=(cleanup_root)

# ---- 1. the .deb ------------------------------------------------------------------------------
phase "build"
debdir="$work/deb"
mkdir -p "$debdir"
if [[ -n "${MXGUARD_DEB_FILE:-}" ]]; then
  cp "$MXGUARD_DEB_FILE" "$debdir/" || { echo "FAIL: cannot read $MXGUARD_DEB_FILE"; exit 1; }
  echo "testing $MXGUARD_DEB_FILE (MXGUARD_DEB_FILE), not a build of this tree"
else
  key=$(bash "$here/build_deb.sh" --key)
  cached="$CACHE/deb/$key"
  if [[ -z "${MXGUARD_DEB_REBUILD:-}" && -f "$cached/complete" ]] && compgen -G "$cached/*.deb" >/dev/null; then
    cp "$cached"/*.deb "$debdir/"
    echo "reusing the .deb built $(date -r "$cached/complete" '+%F %T') from identical inputs" \
      "(key $key; MXGUARD_DEB_REBUILD=1 builds again)"
  else
    if bash "$here/build_deb.sh" "$work/build" > "$work/build_deb.out" 2>&1; then
      cp "$work"/build/*.deb "$debdir/"
      rm -rf "$cached.tmp" && mkdir -p "$cached.tmp" && cp "$work"/build/*.deb "$cached.tmp/" \
        && touch "$cached.tmp/complete" && rm -rf "$cached" && mv "$cached.tmp" "$cached"
      # Keep the three newest builds.
      ls -1dt "$CACHE"/deb/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
    else
      bad "dpkg-buildpackage: $(cat "$work/build_deb.out")"
      tb_summary; exit 1
    fi
  fi
fi
deb=$(ls "$debdir"/*.deb | head -1)
expect_eq "package file name (CMakeLists.txt project VERSION $version)" "mxguard_${version}_$arch.deb" "${deb##*/}"
echo "build: $((SECONDS - t0)) s"

# ---- 2. lintian, contents, maintainer scripts ----------------------------------------------
phase "lintian"
lintian --fail-on error --display-info "$deb" > "$work/lintian.out" 2>&1
lintian_rc=$?
lintian_out=$(grep -v '^running with root privileges' "$work/lintian.out")
errors=$(grep -c '^E: ' <<<"$lintian_out")
warnings=$(grep -c '^W: ' <<<"$lintian_out")
if [[ $lintian_rc -eq 0 && $errors -eq 0 ]]; then ok "lintian: no errors ($warnings warnings)"
else bad "lintian: rc=$lintian_rc, $errors errors"; fi
[[ -n "$lintian_out" ]] && sed 's/^/  lintian: /' <<<"$lintian_out"

phase "contents"
contents=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -v '/$' | sort)
expected=$(sort <<'EOF'
./etc/logrotate.d/mxguard
./etc/mxguard/mxguard.conf
./etc/mxguard/policy.conf
./lib/systemd/system/mxguard.service
./usr/bin/mxguard-check
./usr/sbin/mxguard
./usr/share/doc/mxguard/README.Debian
./usr/share/doc/mxguard/README.md.gz
./usr/share/doc/mxguard/changelog.gz
./usr/share/doc/mxguard/copyright
./usr/share/doc/mxguard/mxguard.conf
./usr/share/doc/mxguard/policies/default.conf
./usr/share/doc/mxguard/policies/strict.conf
./usr/share/doc/mxguard/postfix-main.cf
./usr/share/doc/mxguard/sendmail.mc
./usr/share/lintian/overrides/mxguard
./usr/share/man/man1/mxguard-check.1.gz
./usr/share/man/man5/mxguard-policy.5.gz
./usr/share/man/man5/mxguard.conf.5.gz
./usr/share/man/man8/mxguard.8.gz
EOF
)
if [[ "$contents" == "$expected" ]]; then ok "the package holds exactly the $(wc -l <<<"$expected") expected files"
else bad "package contents differ (< expected, > got): $(diff <(echo "$expected") <(echo "$contents") | grep '^[<>]' | tr '\n' ' ')"; fi
ctl="$work/control"
dpkg-deb -e "$deb" "$ctl"
expect_eq "conffiles" "/etc/logrotate.d/mxguard /etc/mxguard/mxguard.conf /etc/mxguard/policy.conf" \
  "$(sort "$ctl/conffiles" | tr '\n' ' ' | sed 's/ $//')"
depends=$(dpkg-deb -f "$deb" Depends)
[[ ", $depends," == *", publicsuffix,"* && ", $depends," == *", adduser,"* \
   && "$depends" == *libmilter* && "$depends" == *libunbound* ]] \
  && ok "Depends: shlibs (libmilter, libunbound, ...), adduser, publicsuffix" || bad "Depends: $depends"
# The package never starts the daemon: no start or restart but the postinst's guarded try-restart,
# no stop before an upgrade, a stop on removal.
starts=$(cat "$ctl"/preinst "$ctl"/postinst "$ctl"/prerm "$ctl"/postrm 2>/dev/null | grep -vE '^\s*(#|echo )' \
         | grep -E '(deb-systemd-invoke|systemctl|invoke-rc.d)[^#]* (start|restart|reload)( |$)')
[[ -z "$starts" ]] && ok "maintainer scripts: nothing starts or restarts mxguard unconditionally" \
  || bad "maintainer scripts start it: $starts"
grep -q 'deb-systemd-invoke try-restart' "$ctl/postinst" && ok "postinst: try-restart after an upgrade (when --check-config passes)" \
  || bad "postinst: no try-restart"
grep -qE 'deb-systemd-invoke stop' "$ctl/preinst" 2>/dev/null && bad "preinst stops mxguard before an upgrade" \
  || ok "preinst: no stop before an upgrade"
grep -qE '"\$1" = "remove".*' "$ctl/prerm" && grep -q 'deb-systemd-invoke stop mxguard.service' "$ctl/prerm" \
  && ok "prerm: stops mxguard on removal" || bad "prerm: $(cat "$ctl/prerm" 2>/dev/null)"

# ---- 3. a clean Debian root -------------------------------------------------------------------
phase "root"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
# The machine's own apt sources for this release (deb822 .sources stanzas or one-line entries),
# for debootstrap's mirror and the root's sources.
python3 - "$codename" > "$work/sources" <<'PY'
import glob, os, re, sys
codename = sys.argv[1]
ok_suites = {codename, codename + "-updates", codename + "-security"}
out = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in stanza.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                fields[m.group(1).lower()] = m.group(2).strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        suites = fields.get("suites", "").split()
        if suites and all(s in ok_suites for s in suites):
            for uri in fields.get("uris", "").split():
                for s in suites:
                    out.append((uri, s, fields.get("components", "main"), fields.get("signed-by", "")))
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    if not os.path.exists(path):
        continue
    for line in open(path):
        m = re.match(r"^deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line.strip())
        if m and m.group(3) in ok_suites:
            opts = m.group(1) or ""
            sb = re.search(r"signed-by=(\S+?)\]?(\s|$)", opts)
            out.append((m.group(2), m.group(3), m.group(4).split("#")[0].strip(), sb.group(1) if sb else ""))
for uri, suite, comps, signed in out:
    print(uri, suite, signed or "-", comps)
PY
mirror=$(awk -v c="$codename" '$2 == c { print $1; exit }' "$work/sources")
[[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian
week=$(date +%G-W%V)
mirror_id=$(printf '%s' "$mirror" | sha256sum | cut -c1-10)
tarball="$CACHE/debootstrap/$codename-minbase-$arch-$mirror_id-$week.tar.gz"
mkdir -p "$CACHE/debootstrap"
if [[ ! -s "$tarball" ]]; then
  echo "debootstrap --variant=minbase $codename from $mirror (cached as $tarball)"
  mk="$TB_DIR/mkroot"
  if ! debootstrap --variant=minbase "$codename" "$mk" "$mirror" > "$work/debootstrap.log" 2>&1 \
     && ! { rm -rf --one-file-system "$mk"; sleep 5;
            debootstrap --variant=minbase "$codename" "$mk" "$mirror" >> "$work/debootstrap.log" 2>&1; }; then
    bad "debootstrap failed: $(tail -5 "$work/debootstrap.log")"
    rm -rf --one-file-system "$mk"; tb_summary; exit 1
  fi
  rm -f "$mk"/var/cache/apt/archives/*.deb "$mk"/var/lib/apt/lists/*_Packages
  tar --numeric-owner -C "$mk" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf --one-file-system "$mk"
  # Roots of other weeks or mirrors are not used again.
  find "$CACHE/debootstrap" -name "$codename-minbase-$arch-*.tar.gz" ! -path "$tarball" -delete
else
  echo "root from the cached $tarball"
fi
mkdir "$root"
tar --numeric-owner -C "$root" -xzf "$tarball" || { bad "cannot unpack $tarball"; tb_summary; exit 1; }
mount -t proc proc "$root/proc" || { bad "cannot mount /proc in the root"; tb_summary; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The machine's sources for this release (debootstrap's covers the main suite only), with the
# keyrings they name.
if [[ -s "$work/sources" ]]; then
  : > "$root/etc/apt/sources.list"
  while read -r uri suite signed comps; do
    if [[ "$signed" != - && -f "$signed" && ! -f "$root$signed" ]]; then
      mkdir -p "$root$(dirname "$signed")" && cp "$signed" "$root$signed"
    fi
    opt=""
    [[ "$signed" != - ]] && opt="[signed-by=$signed] "
    echo "deb $opt$uri $suite $comps" >> "$root/etc/apt/sources.list"
  done < "$work/sources"
fi
mkdir -p "$root/var/cache/apt/archives"
compgen -G "$apt_cache/*.deb" >/dev/null && cp "$apt_cache"/*.deb "$root/var/cache/apt/archives/"
if retry in_root apt-get update -qq > "$work/apt-update.log" 2>&1; then ok "apt-get update in the root ($(grep -c . "$root/etc/apt/sources.list") sources)"
else bad "apt-get update in the root: $(cat "$work/apt-update.log")"; tb_summary; exit 1; fi

# ---- 4. install the .deb with apt -------------------------------------------------------------
phase "install"
cp "$deb" "$root/tmp/"
if retry in_root apt-get install -y --no-install-recommends "/tmp/${deb##*/}" > "$work/install.log" 2>&1; then
  ok "apt-get install ./${deb##*/} into a minbase root (dependencies from the archive)"
else bad "apt-get install: $(tail -20 "$work/install.log")"; save_apt_cache; tb_summary; exit 1; fi
rm -f "$root/tmp/${deb##*/}"
grep -q "mxguard: enabled, not started" "$work/install.log" && ok "postinst says: enabled, not started" \
  || bad "postinst note missing: $(grep -i mxguard "$work/install.log" | tail -5)"
expect_eq "dpkg status" "install ok installed $version" "$(in_root dpkg-query -W -f='${Status} ${Version}' mxguard)"
IFS=: read -r _ _ uid gid _ home shell <<<"$(in_root getent passwd mxguard)"
group=$(in_root getent group "$gid" | cut -d: -f1)
if [[ -n "$uid" && $uid -lt 1000 && "$group" == mxguard && "$home" == /nonexistent && "$shell" == */nologin ]]; then
  ok "system user mxguard: uid $uid, group mxguard, home /nonexistent, shell $shell"
else bad "user mxguard: uid '$uid' group '$group' home '$home' shell '$shell'"; fi
unit="$root/lib/systemd/system/mxguard.service"
exec_pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
expect_eq "unit ExecStartPre" "/usr/sbin/mxguard --config /etc/mxguard/mxguard.conf --check-config" "$exec_pre"
expect_eq "unit ExecStart" "/usr/sbin/mxguard --config /etc/mxguard/mxguard.conf --foreground" "$exec_start"
[[ -L "$root/etc/systemd/system/multi-user.target.wants/mxguard.service" ]] \
  && ok "unit enabled (multi-user.target.wants/mxguard.service)" || bad "unit not enabled"
if pgrep -f /usr/sbin/mxguard >/dev/null; then bad "mxguard was started by the installation: $(pgrep -af /usr/sbin/mxguard)"
else ok "mxguard not started by the installation"; fi
missing_libs=$(in_root ldd /usr/sbin/mxguard /usr/bin/mxguard-check 2>&1 | grep 'not found')
[[ -z "$missing_libs" ]] && ok "ldd: every library of mxguard and mxguard-check installed" || bad "ldd: $missing_libs"
[[ -f "$root/usr/share/publicsuffix/public_suffix_list.dafsa" ]] && ok "publicsuffix installed (the dmarc stage's list)" \
  || bad "no /usr/share/publicsuffix/public_suffix_list.dafsa in the root"
expect_eq "mxguard --version" "$version" "$(in_root mxguard --version 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)"
out=$("${as_mxguard[@]}" $exec_pre 2>&1); rc=$?
[[ $rc -eq 0 ]] && ok "as user mxguard, the unit's ExecStartPre passes with the packaged config: $(tail -1 <<<"$out")" \
  || bad "ExecStartPre as mxguard: rc=$rc: $out"

# ---- 5. the daemon as the unit runs it, DNS from a private nsd ---------------------------------
phase "daemon"
start_nsd || { bad "nsd did not start"; tb_summary; exit 1; }
conf="$root/etc/mxguard/mxguard.conf"
policy="$root/etc/mxguard/policy.conf"
# [dns] forward to nsd; the forged-HELO check's host name; the policy's blocklist zone -> the
# testbed's DNSBL (the same filter and weight as the shipped Spamhaus line).
awk -v port="$NSD_PORT" '
  /^\[/ { section = $0 }
  section == "[dns]" && /^# *forward *=/ && !done_fwd { print "forward = 127.0.0.1@" port; done_fwd = 1; next }
  section == "" && /^# *hostname *=/ { print "hostname = mx.example.net"; next }
  { print }' "$conf" > "$work/mxguard.conf" && cat "$work/mxguard.conf" > "$conf"
awk '/^\[/ { section = $0 }
  section == "[rbl]" && /^zone *=/ { if (!done) print "zone = dnsbl.example.net=127.0.0.[2..11]*1"; done = 1; next }
  { print }' "$policy" > "$work/policy.conf" && cat "$work/policy.conf" > "$policy"
grep -qx "forward = 127.0.0.1@$NSD_PORT" "$conf" && grep -qx "hostname = mx.example.net" "$conf" \
  && grep -qx "zone = dnsbl.example.net=127.0.0.\[2..11\]\*1" "$policy" \
  && ok "packaged config pointed at the test DNS (forward, hostname, rbl zone)" \
  || bad "could not edit the packaged config: $(grep -nE '^(# *)?(forward|hostname|zone) *=' "$conf" "$policy")"
# RuntimeDirectory=mxguard (0750) and StateDirectory=mxguard (0750), as systemd makes them.
in_root install -d -o mxguard -g mxguard -m 0750 /run/mxguard /var/lib/mxguard
out=$("${as_mxguard[@]}" $exec_pre 2>&1); rc=$?
[[ $rc -eq 0 ]] && ok "ExecStartPre with the test DNS: $(tail -1 <<<"$out")" || bad "ExecStartPre: rc=$rc: $out"
MXGUARD_LOG="$TB_DIR/mxguard.log"
"${as_mxguard[@]}" $exec_start 2>> "$MXGUARD_LOG" &
MXGUARD_PID=$!  # testbed's stop_mxguard stops it (and tb_cleanup on EXIT)
for ((i = 0; i < 200; i++)); do
  grep -q "listening on" "$MXGUARD_LOG" 2>/dev/null && break
  kill -0 "$MXGUARD_PID" 2>/dev/null || break
  sleep 0.05
done
sock="$root/run/mxguard/mxguard.sock"
if [[ -S "$sock" ]] && grep -q "listening on" "$MXGUARD_LOG"; then
  ok "ExecStart as mxguard: listening ($(grep -m1 "listening on" "$MXGUARD_LOG"))"
else bad "mxguard did not start: $(cat "$MXGUARD_LOG")"; tb_summary; exit 1; fi
expect_eq "daemon's uid/gid" "$uid $gid" "$(ps -o uid=,gid= -p "$MXGUARD_PID" | awk '{ print $1, $2 }')"
expect_eq "daemon's effective capabilities" "0000000000000000" "$(awk '/^CapEff:/ { print $2 }' "/proc/$MXGUARD_PID/status")"
expect_eq "socket owner, group, mode" "mxguard mxguard 660" "$(in_root stat -c '%U %G %a' /run/mxguard/mxguard.sock)"

# ---- 6. Postfix in the root, the packaged postfix-main.cf, swaks from outside -------------------
phase "postfix"
printf '#!/bin/sh\n# deb_install_test.sh: no service starts in this root\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
echo "postfix postfix/main_mailer_type select No configuration" | in_root debconf-set-selections
if retry in_root apt-get install -y --no-install-recommends postfix > "$work/postfix-install.log" 2>&1; then
  ok "postfix installed in the root (No configuration)"
else bad "postfix install: $(tail -20 "$work/postfix-install.log")"; save_apt_cache; tb_summary; exit 1; fi
save_apt_cache
in_root adduser --quiet postfix mxguard
SMTP_PORT=$(free_port)
nobody_uid=$(in_root id -u nobody) nobody_gid=$(in_root id -g nobody)
mkdir -p "$root/var/mail/vhosts"
chown "$nobody_uid:$nobody_gid" "$root/var/mail/vhosts"
cat > "$root/etc/postfix/main.cf" <<EOF
compatibility_level = 3.6
myhostname = mx.example.net
mydomain = example.net
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = /var/log/postfix.log
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = example.org
virtual_mailbox_base = /var/mail/vhosts
virtual_mailbox_maps = inline:{ user@example.org=user/ }
virtual_uid_maps = static:$nobody_uid
virtual_gid_maps = static:$nobody_gid
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtputf8_enable = no
smtpd_banner = \$myhostname ESMTP

# --- /usr/share/doc/mxguard/postfix-main.cf, as shipped ---
EOF
cat "$root/usr/share/doc/mxguard/postfix-main.cf" >> "$root/etc/postfix/main.cf"
tb_master_cf "$SMTP_PORT" > "$root/etc/postfix/master.cf"
expect_eq "Postfix's smtpd_milters (from the packaged fragment)" "unix:/run/mxguard/mxguard.sock" \
  "$(in_root postconf -h smtpd_milters)"
if in_root postfix check > "$work/postfix-check.log" 2>&1 && in_root postfix start > "$work/postfix-start.log" 2>&1 \
   && wait_port 127.0.0.1 "$SMTP_PORT" 15; then
  ok "Postfix started in the root, smtpd on 127.0.0.1:$SMTP_PORT"
else bad "Postfix: $(cat "$work/postfix-check.log" "$work/postfix-start.log" "$root/var/log/postfix.log" 2>/dev/null | tail -20)"; tb_summary; exit 1; fi

# rcpt_reply FILE: the first reply to RCPT TO in a swaks transcript (continuations joined by " | ").
rcpt_reply() {
  awk '/^ -> RCPT TO:/ { want = 1; text = ""; next }
       want && /^<(\*\*|-) / { line = $0; sub(/^<(\*\*|-) +/, "", line)
         text = text (text == "" ? "" : " | ") line
         if (substr(line, 4, 1) != "-") { print text; exit } }' "$1"
}
tb_swaks --xclient-addr 192.0.2.10 --xclient-name mail.client.example.net \
  --xclient-reverse-name mail.client.example.net --ehlo mail.client.example.net \
  --from sender@client.example.net --to user@example.org --header "Subject: deb-clean" > "$work/clean.swaks"
expect_eq "clean client 192.0.2.10: RCPT" "250 2.1.5 Ok" "$(rcpt_reply "$work/clean.swaks")"
grep -q "^<-  250 2.0.0 Ok: queued as" "$work/clean.swaks" && ok "clean client: message queued" \
  || bad "clean client: not queued: $(grep '^<' "$work/clean.swaks" | tail -3)"
delivered=""
for ((i = 0; i < 200; i++)); do
  delivered=$(grep -lsF "Subject: deb-clean" "$root"/var/mail/vhosts/user/new/* 2>/dev/null | head -1)
  [[ -n "$delivered" ]] && break
  sleep 0.05
done
if [[ -n "$delivered" ]] && grep -q "^Authentication-Results: mx.example.net;" "$delivered"; then
  ok "clean client: delivered, with mxguard's Authentication-Results field"
else bad "clean client: delivered='$delivered': $(head -5 "$delivered" 2>/dev/null) $(tail -5 "$root/var/log/postfix.log")"; fi
tb_swaks --xclient-addr 192.0.2.2 --xclient-name listed.example.net \
  --xclient-reverse-name listed.example.net --ehlo listed.example.net \
  --from sender@client.example.net --to user@example.org --header "Subject: deb-listed" > "$work/listed.swaks"
expect_eq "listed client 192.0.2.2: RCPT" \
  "554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using dnsbl.example.net; Listed for spam, see https://dnsbl.example.net/lookup?ip=192.0.2.2" \
  "$(rcpt_reply "$work/listed.swaks")"
in_root postfix stop > /dev/null 2>&1
if stop_mxguard; then ok "SIGTERM: mxguard exits 0"; else bad "mxguard stop: $(tail -5 "$MXGUARD_LOG")"; fi
grep -q "192.0.2.2" "$MXGUARD_LOG" && grep -q "192.0.2.10" "$MXGUARD_LOG" \
  && ok "mxguard logged both transactions" || bad "mxguard log: $(tail -5 "$MXGUARD_LOG")"

for ((i = 0; i < 100; i++)); do [[ -z "$(root_pids)" ]] && break; sleep 0.1; done
[[ -z "$(root_pids)" ]] && ok "Postfix stopped: no process left in the root" \
  || bad "processes left in the root: $(for p in $(root_pids); do tr '\0' ' ' < "/proc/$p/cmdline"; echo; done)"

# ---- 7. an upgrade and the removal as they run under systemd ----------------------------------
# /run/systemd/system makes the maintainer scripts take their systemd branch; stand-ins for
# systemctl (mxguard "is active") and deb-systemd-invoke, first in the scripts' PATH, log what
# would be done. The same .deb installed again is an upgrade for the postinst ($2 = the version).
phase "upgrade"
mkdir -p "$root/run/systemd/system" "$root/usr/local/sbin"
for cmd in systemctl deb-systemd-invoke; do
  printf '#!/bin/sh\necho "%s $*" >> /tmp/service.log\nexit 0\n' "$cmd" > "$root/usr/local/sbin/$cmd"
  chmod 755 "$root/usr/local/sbin/$cmd"
done
# in_root_sd CMD...: in_root with the stand-ins first in PATH (apt-get also needs DPkg::Path: it
# sets dpkg's PATH itself).
sd_path=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
in_root_sd() {
  chroot "$root" env -i PATH=$sd_path HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
cp "$deb" "$root/tmp/"
: > "$root/tmp/service.log"
in_root_sd dpkg -i "/tmp/${deb##*/}" > "$work/upgrade.log" 2>&1
grep -q "^deb-systemd-invoke try-restart mxguard.service$" "$root/tmp/service.log" \
  && ! grep -qE "deb-systemd-invoke (start|restart|stop) " "$root/tmp/service.log" \
  && ok "upgrade, configuration accepted: mxguard try-restarted, nothing else ($(tr '\n' ';' < "$root/tmp/service.log"))" \
  || bad "upgrade: service calls: $(cat "$root/tmp/service.log") $(tail -5 "$work/upgrade.log")"
cp "$policy" "$work/policy.good"
sed -i 's/^delay_reject = yes/delay_reject = maybe/' "$policy"
: > "$root/tmp/service.log"
in_root_sd dpkg -i "/tmp/${deb##*/}" > "$work/upgrade-bad.log" 2>&1
if ! grep -q "try-restart" "$root/tmp/service.log" \
   && grep -q "mxguard: WARNING: not restarted: the new version refuses the configuration" "$work/upgrade-bad.log" \
   && grep -q "policy.conf:[0-9]*: engine.delay_reject" "$work/upgrade-bad.log"; then
  ok "upgrade, configuration refused: not restarted, and the postinst says why (FILE:LINE)"
else bad "upgrade with a broken policy: $(cat "$root/tmp/service.log") $(cat "$work/upgrade-bad.log")"; fi
cat "$work/policy.good" > "$policy"
rm -f "$root/tmp/${deb##*/}"

# ---- 8. remove, then purge --------------------------------------------------------------------
phase "remove"
echo "192.0.2.0/24 allow" > "$root/etc/mxguard/clients.cidr"  # an admin's map
echo '{}' > "$root/var/lib/mxguard/transactions.jsonl"         # a [record] file
in_root chown mxguard:mxguard /var/lib/mxguard/transactions.jsonl
: > "$root/tmp/service.log"
if in_root_sd apt-get -o DPkg::Path=$sd_path remove -y mxguard > "$work/remove.log" 2>&1; then ok "apt-get remove mxguard"
else bad "apt-get remove: $(tail -10 "$work/remove.log")"; fi
grep -q "^deb-systemd-invoke stop mxguard.service$" "$root/tmp/service.log" \
  && ok "remove: mxguard stopped (prerm)" || bad "remove: no stop: $(cat "$root/tmp/service.log")"
expect_eq "after remove: dpkg status" "deinstall ok config-files" "$(in_root dpkg-query -W -f='${Status}' mxguard 2>&1)"
[[ ! -e "$root/usr/sbin/mxguard" && ! -e "$root/lib/systemd/system/mxguard.service" ]] \
  && ok "after remove: binary and unit gone" || bad "after remove: binary or unit still there"
[[ -f "$root/etc/mxguard/mxguard.conf" ]] && grep -qx "forward = 127.0.0.1@$NSD_PORT" "$root/etc/mxguard/mxguard.conf" \
  && [[ -f "$root/etc/mxguard/policy.conf" ]] && ok "after remove: the edited conffiles stay" \
  || bad "after remove: conffiles: $(ls -la "$root/etc/mxguard" 2>&1)"
in_root getent passwd mxguard >/dev/null && ok "after remove: user mxguard stays" || bad "after remove: user gone"

phase "purge"
if in_root_sd apt-get -o DPkg::Path=$sd_path purge -y mxguard > "$work/purge.log" 2>&1; then ok "apt-get purge mxguard"
else bad "apt-get purge: $(tail -10 "$work/purge.log")"; fi
status=$(in_root dpkg-query -W -f='${Status}' mxguard 2>/dev/null)
[[ -z "$status" || "$status" == "unknown ok not-installed" ]] && ok "after purge: dpkg knows no mxguard" \
  || bad "after purge: dpkg status '$status'"
left=""
for p in /etc/mxguard /var/lib/mxguard /run/mxguard /etc/systemd/system/multi-user.target.wants/mxguard.service \
         /etc/systemd/system/mxguard.service.d /var/lib/systemd/deb-systemd-helper-enabled/mxguard.service.dsh-also \
         /etc/logrotate.d/mxguard /usr/share/doc/mxguard; do
  [[ -e "$root$p" || -L "$root$p" ]] && left+=" $p"
done
[[ -z "$left" ]] && ok "after purge: /etc/mxguard (with the admin's map), /var/lib/mxguard, /run/mxguard, the unit's links and docs are gone" \
  || bad "after purge: left behind:$left"
named=$(cd "$root" && find . -xdev -path ./proc -prune -o -name '*mxguard*' -print | sed 's/^\.//')
[[ -z "$named" ]] && ok "after purge: no file or directory named *mxguard* in the root" || bad "after purge: $named"
# Files in /etc that still mention mxguard: the account databases (the user is kept) and Postfix's
# main.cf (the test's own).
mentions=$(grep -rlw mxguard "$root/etc" 2>/dev/null | sed "s|^$root||" \
           | grep -vxE '/etc/(passwd|group|shadow|gshadow)-?|/etc/postfix/main.cf' | tr '\n' ' ')
[[ -z "$mentions" ]] && ok "after purge: /etc mentions mxguard only in the account files and the test's main.cf" \
  || bad "after purge: /etc files mention mxguard: $mentions"
in_root getent passwd mxguard >/dev/null && in_root getent group mxguard >/dev/null \
  && ok "after purge: user and group mxguard kept (like opendkim; deluser --system mxguard removes them)" \
  || bad "after purge: user or group mxguard gone"

rm -rf "$root/usr/local/sbin/systemctl" "$root/usr/local/sbin/deb-systemd-invoke" "$root/run/systemd" "$root/tmp/service.log"
save_apt_cache
phase "done"
echo "deb_install_test: $((SECONDS - t0)) s"
tb_summary
