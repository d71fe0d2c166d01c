#!/usr/bin/env bash
# install_deps_test.sh - contrib/install-deps.sh never touches a service the system runs: with
# stand-ins for apt-get, dpkg-query, apt-cache, debconf-set-selections, sudo and every service
# command (systemctl, service, invoke-rc.d, deb-systemd-invoke, deb-systemd-helper, update-rc.d)
# first in PATH, it calls no service command; installs a missing package with policy-rc.d
# (exit 101) in place and removes it afterwards, also when apt-get fails or the script is killed
# by SIGTERM; leaves an existing policy-rc.d untouched; preseeds Postfix "No configuration" only
# when it installs Postfix; and names the newly installed packages whose services are enabled at
# boot. --list prints the package lists.
# Must not: install anything, or touch the real /usr/sbin/policy-rc.d, /etc or the package cache
# (MXGUARD_POLICY_RC_D, MXGUARD_ETC_DIR and SENDMAIL_CACHE point into a temp dir).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
script="$src/contrib/install-deps.sh"
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"  # ok, bad, expect_eq, tb_summary

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin="$work/bin" state="$work/state"
mkdir -p "$bin" "$state/files" "$work/etc/systemd/system" "$work/sendmail/root/usr/libexec/sendmail"

# fingerprint FILE: mode, size, mtime, inode and content hash on one line ("absent" if none).
fingerprint() {
  [[ -e "$1" ]] || { echo absent; return; }
  echo "$(stat -c '%a %s %Y %i' "$1") $(sha256sum < "$1" | cut -c1-16)"
}
# The real policy-rc.d, to prove below that it was not touched.
real_before=$(fingerprint /usr/sbin/policy-rc.d)

# ---- stand-ins --------------------------------------------------------------------------------
# Every service command: logs its name and arguments to state/service.log, does nothing.
for cmd in systemctl service invoke-rc.d deb-systemd-invoke deb-systemd-helper update-rc.d; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/service.log"\nexit 0\n' "$cmd" "$state" > "$bin/$cmd"
done
printf '#!/bin/sh\nexec "$@"\n' > "$bin/sudo"
# dpkg-query: "-W -f=FORMAT" lists state/installed as installed packages; "-L PKG" lists
# state/files/PKG.
cat > "$bin/dpkg-query" <<EOF
#!/usr/bin/env bash
echo "dpkg-query \$*" >> "$state/calls.log"
case "\$1" in
  -W) sed 's/\$/ install ok installed/' "$state/installed" ;;
  -L) cat "$state/files/\$2" 2>/dev/null || { echo "dpkg-query: package '\$2' is not installed" >&2; exit 1; } ;;
  *) exit 2 ;;
esac
EOF
# apt-get: "install PKG..." records whether policy-rc.d is there and what it answers, then fails
# (state/apt_fail), has the script killed (state/apt_kill), or "installs": the packages (and
# state/deps, a dependency) join state/installed, and those in state/enable get the boot-time link
# deb-systemd-helper would make.
cat > "$bin/apt-get" <<EOF
#!/usr/bin/env bash
echo "apt-get \$*" >> "$state/calls.log"
[[ "\$1" == update ]] && exit 0
[[ " \$* " == *" install "* ]] || exit 0
p=\$MXGUARD_POLICY_RC_D
if [[ -x "\$p" ]]; then "\$p" nsd start; echo "policy-rc.d present rc=\$?" >> "$state/apt.log"
else echo "policy-rc.d absent" >> "$state/apt.log"; fi
[[ -e "$state/apt_fail" ]] && { echo "E: Unable to locate package" >&2; exit 100; }
if [[ -e "$state/apt_kill" ]]; then kill -TERM "\$PPID"; sleep 1; exit 1; fi
for a in "\$@"; do [[ "\$a" == -* || "\$a" == install ]] || echo "\$a" >> "$state/installed"; done
cat "$state/deps" >> "$state/installed" 2>/dev/null
while read -r pkg unit; do
  [[ -n "\$pkg" ]] && grep -qx "\$pkg" "$state/installed" || continue
  mkdir -p "$work/etc/systemd/system/multi-user.target.wants"
  ln -sf "/lib/systemd/system/\$unit" "$work/etc/systemd/system/multi-user.target.wants/\$unit"
done < "$state/enable"
exit 0
EOF
printf '#!/bin/sh\necho "  Candidate: 8.17.1"\n' > "$bin/apt-cache"
printf '#!/bin/sh\ncat >> "%s/debconf.log"\n' "$state" > "$bin/debconf-set-selections"
chmod +x "$bin"/*
echo "8.17.1" > "$work/sendmail/VERSION"
printf '#!/bin/sh\n' > "$work/sendmail/root/usr/libexec/sendmail/sendmail"
chmod +x "$work/sendmail/root/usr/libexec/sendmail/sendmail"
# Units of the packages "installed" in these runs; nsd, postfix and libfoo-daemon get enabled.
printf '/usr/sbin/nsd\n/lib/systemd/system/nsd.service\n/lib/systemd/system/nsd@.service\n' > "$state/files/nsd"
printf '/usr/sbin/postfix\n/lib/systemd/system/postfix.service\n/lib/systemd/system/postfix@.service\n/etc/init.d/postfix\n' > "$state/files/postfix"
printf '/usr/bin/swaks\n' > "$state/files/swaks"
printf '/usr/sbin/foo-daemon\n/lib/systemd/system/foo-daemon.service\n' > "$state/files/libfoo-daemon"
printf 'nsd nsd.service\npostfix postfix.service\nlibfoo-daemon foo-daemon.service\n' > "$state/enable"

policy="$work/policy-rc.d"
# run NAME [args...]: install-deps.sh with the stand-ins; output in work/NAME.out, status in rc.
run() {
  local name=$1
  shift
  rm -f "$state/service.log" "$state/calls.log" "$state/apt.log" "$state/debconf.log"
  PATH="$bin:$PATH" MXGUARD_POLICY_RC_D="$policy" MXGUARD_ETC_DIR="$work/etc" \
    SENDMAIL_CACHE="$work/sendmail" bash "$script" "$@" > "$work/$name.out" 2>&1
  rc=$?
}
no_service_calls() {  # NAME
  if [[ -s "$state/service.log" ]]; then bad "$1: service commands were run: $(tr '\n' ';' < "$state/service.log")"
  else ok "$1: no service command (systemctl, service, invoke-rc.d, deb-systemd-invoke, ...) was run"; fi
}
all_pkgs=$(bash "$script" --list build; bash "$script" --list test)
reset_installed() {  # installed = every package except "$@"
  local p
  : > "$state/installed"
  for p in $all_pkgs; do [[ " $* " == *" $p "* ]] || echo "$p" >> "$state/installed"; done
  rm -f "$state/deps" "$state/apt_fail" "$state/apt_kill"
  rm -rf "$work/etc/systemd/system"/*
}

# ---- --list -----------------------------------------------------------------------------------
build_list=$(bash "$script" --list build)
test_list=$(bash "$script" --list test)
if grep -qx libmilter-dev <<<"$build_list" && grep -qx build-essential <<<"$build_list" \
   && ! grep -qx postfix <<<"$build_list" && grep -qx postfix <<<"$test_list" \
   && grep -qx debootstrap <<<"$test_list" && grep -qx lintian <<<"$test_list" \
   && grep -qx debhelper <<<"$test_list" && grep -qx dpkg-dev <<<"$test_list"; then
  ok "--list build / --list test print the two lists (test: postfix, debhelper, lintian, debootstrap)"
else bad "--list: build='$(tr '\n' ' ' <<<"$build_list")' test='$(tr '\n' ' ' <<<"$test_list")'"; fi
bash "$script" --list nonsense >/dev/null 2>&1
expect_eq "--list with an unknown list: usage error" 64 "$?"

# ---- 1. everything installed: nothing to do -----------------------------------------------------
reset_installed
run all-installed --test
expect_eq "all installed: exit status" 0 "$rc"
grep -q "^install-deps: all [0-9]* packages already installed" "$work/all-installed.out" \
  && grep -q "sendmail 8.17.1 already unpacked" "$work/all-installed.out" \
  && ok "all installed: says so (and that sendmail is unpacked)" \
  || bad "all installed: output: $(cat "$work/all-installed.out")"
grep -q "^apt-get" "$state/calls.log" 2>/dev/null && bad "all installed: apt-get was run: $(cat "$state/calls.log")" \
  || ok "all installed: apt-get not run"
[[ ! -e "$policy" ]] && ok "all installed: no policy-rc.d written" || bad "all installed: $policy exists"
no_service_calls "all installed"

# ---- 2. missing packages, no policy-rc.d: one is written for apt-get and removed after ------------
reset_installed nsd postfix swaks
echo libfoo-daemon > "$state/deps"  # pulled in by apt as a dependency
run missing --test
expect_eq "missing: exit status" 0 "$rc"
expect_eq "missing: apt-get calls" "apt-get update -qq|apt-get install -y -qq --no-install-recommends postfix swaks nsd" \
  "$(grep '^apt-get' "$state/calls.log" | paste -sd '|')"
expect_eq "missing: during apt-get install, policy-rc.d is there and answers" "policy-rc.d present rc=101" \
  "$(cat "$state/apt.log" 2>/dev/null)"
[[ ! -e "$policy" ]] && ok "missing: policy-rc.d removed afterwards" || bad "missing: $policy left behind: $(cat "$policy")"
no_service_calls "missing"
expect_eq "missing: Postfix preseeded (it was being installed)" \
  "postfix postfix/main_mailer_type select No configuration" "$(cat "$state/debconf.log" 2>/dev/null)"
notice=$(sed -n '/NOTICE/,$p' "$work/missing.out")
if [[ "$notice" == *"  postfix: postfix.service"* && "$notice" == *"  nsd: nsd.service"* \
      && "$notice" == *"  libfoo-daemon: foo-daemon.service"* && "$notice" != *swaks* \
      && "$notice" != *"@.service"* && "$notice" != *init.d* ]]; then
  ok "missing: the notice names the new packages with services enabled at boot (a dependency too), not swaks"
else bad "missing: notice: $(cat "$work/missing.out")"; fi

# Postfix already installed: its debconf answers are not changed.
reset_installed nsd
run postfix-installed --test
expect_eq "postfix installed: exit status" 0 "$rc"
[[ ! -s "$state/debconf.log" ]] && ok "postfix installed: no debconf answer given (the live Postfix keeps its own)" \
  || bad "postfix installed: debconf-set-selections got: $(cat "$state/debconf.log")"
no_service_calls "postfix installed"

# ---- 3. an existing policy-rc.d is left exactly as it is --------------------------------------
reset_installed nsd
printf "#!/bin/sh\n# the admin's own\nexit 0\n" > "$policy"
chmod 700 "$policy"
touch -d '2020-01-02 03:04:05' "$policy"
before=$(fingerprint "$policy")
run existing --test
expect_eq "existing policy-rc.d: exit status" 0 "$rc"
expect_eq "existing policy-rc.d: apt-get saw the admin's (exit 0)" "policy-rc.d present rc=0" "$(cat "$state/apt.log" 2>/dev/null)"
after=$(fingerprint "$policy")
expect_eq "existing policy-rc.d: mode, size, mtime, inode, content unchanged" "$before" "$after"
grep -q "policy-rc.d exists: left as it is" "$work/existing.out" && ok "existing policy-rc.d: says it is left alone" \
  || bad "existing policy-rc.d: output: $(cat "$work/existing.out")"
no_service_calls "existing policy-rc.d"
# ... also when apt-get fails.
reset_installed nsd
echo fail > "$state/apt_fail"
run existing-fail --test
[[ $rc -ne 0 ]] && ok "existing policy-rc.d, apt-get fails: exit status $rc" || bad "existing policy-rc.d, apt-get fails: exit 0"
after=$(fingerprint "$policy")
expect_eq "existing policy-rc.d, apt-get fails: unchanged" "$before" "$after"
rm -f "$policy"

# ---- 4. apt-get fails, or the script is killed: our policy-rc.d is removed all the same ---------
reset_installed nsd
echo fail > "$state/apt_fail"
run apt-fails --test
[[ $rc -ne 0 ]] && ok "apt-get fails: install-deps fails too (exit $rc)" || bad "apt-get fails: exit 0"
expect_eq "apt-get fails: policy-rc.d was in place" "policy-rc.d present rc=101" "$(cat "$state/apt.log" 2>/dev/null)"
[[ ! -e "$policy" ]] && ok "apt-get fails: policy-rc.d removed (trap)" || bad "apt-get fails: $policy left behind"
no_service_calls "apt-get fails"

reset_installed nsd
echo kill > "$state/apt_kill"
run killed --test
expect_eq "SIGTERM during apt-get: exit status" 143 "$rc"
expect_eq "SIGTERM during apt-get: policy-rc.d was in place" "policy-rc.d present rc=101" "$(cat "$state/apt.log" 2>/dev/null)"
[[ ! -e "$policy" ]] && ok "SIGTERM during apt-get: policy-rc.d removed (trap)" || bad "SIGTERM: $policy left behind"
no_service_calls "SIGTERM during apt-get"

# ---- 5. the real one was never touched ----------------------------------------------------------
real_after=$(fingerprint /usr/sbin/policy-rc.d)
expect_eq "/usr/sbin/policy-rc.d of this machine unchanged (or still absent)" "$real_before" "$real_after"
tb_summary
