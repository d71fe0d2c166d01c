#!/usr/bin/env bash
# debian_metadata_test.sh - debian/ agrees with the rest of the tree: debian/changelog's version is
# CMakeLists.txt's project() VERSION; Build-Depends lists every package of install-deps.sh's
# build_pkgs (build-essential is implied) and nothing that install-deps.sh does not install;
# Depends names publicsuffix and adduser; debian/rules builds with the cmake buildsystem at compat
# 13 and never lets dh_installsystemd start the unit; the unit template names no fixed install
# path. Quick (no build), so it runs wherever the package test skips.
# Must not: write anything outside its temp dir.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$src/tests/testbed/testbed.sh"  # ok, bad, expect_eq, tb_summary, tb_require
tb_require dpkg-parsechangelog

# ---- versions ---------------------------------------------------------------------------------
cmake_version=$(tr '\n' ' ' < "$src/CMakeLists.txt" | grep -oE 'project\([[:space:]]*mxguard[^)]*\)' \
                | grep -oE 'VERSION[[:space:]]+[0-9][0-9.]*' | awk '{ print $2 }')
deb_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[[ -n "$cmake_version" ]] && ok "CMakeLists.txt project VERSION: $cmake_version" \
  || bad "no VERSION in CMakeLists.txt's project(mxguard ...)"
# A native package: the version is the project's; a Debian revision (-N) would also be accepted.
expect_eq "debian/changelog version = project VERSION (without a Debian revision)" "$cmake_version" "${deb_version%-*}"
expect_eq "debian/source/format" "3.0 (native)" "$(cat "$src/debian/source/format")"

# ---- Build-Depends = install-deps.sh's build_pkgs -----------------------------------------------
# Package names of a control field (versions, architecture and profile restrictions dropped).
field_names() {
  awk -v f="$1" '
    tolower($0) ~ "^" tolower(f) ":" { on = 1; sub(/^[^:]*:/, ""); print; next }
    on && /^[ \t]/ { print; next }
    { on = 0 }' "$src/debian/control" \
    | tr ',|' '\n\n' | sed -E 's/\([^)]*\)//g; s/\[[^]]*\]//g; s/<[^>]*>//g; s/#.*//' \
    | awk 'NF { print $1 }' | sort -u
}
build_depends=$(field_names Build-Depends)
build_pkgs=$(bash "$src/contrib/install-deps.sh" --list build | sort -u)
test_pkgs=$(bash "$src/contrib/install-deps.sh" --list test | sort -u)
missing=$(comm -23 <(grep -vx build-essential <<<"$build_pkgs") <(echo "$build_depends") | tr '\n' ' ')
[[ -z "$missing" ]] && ok "Build-Depends lists all $(grep -vxc build-essential <<<"$build_pkgs") packages of install-deps.sh's build_pkgs" \
  || bad "Build-Depends lacks, from install-deps.sh's build_pkgs: $missing"
extra=$(comm -23 <(echo "$build_depends" | grep -v '^debhelper-compat$') \
                 <(sort -u <(echo "$build_pkgs") <(echo "$test_pkgs")) | tr '\n' ' ')
[[ -z "$extra" ]] && ok "every Build-Depends package is installed by install-deps.sh (build or --test)" \
  || bad "Build-Depends that install-deps.sh does not install: $extra"
grep -q '^Build-Depends:.*debhelper-compat (= 13)' "$src/debian/control" \
  && ok "debhelper-compat (= 13)" || bad "Build-Depends: no debhelper-compat (= 13)"
for p in debhelper dpkg-dev lintian debootstrap; do
  grep -qx "$p" <<<"$test_pkgs" || bad "install-deps.sh --test does not install $p (tests/package needs it)"
done

# ---- Depends, rules, the unit template ---------------------------------------------------------
depends=$(field_names Depends)
for p in '${shlibs:Depends}' '${misc:Depends}' adduser publicsuffix; do
  grep -qxF "$p" <<<"$depends" && ok "Depends: $p" || bad "Depends lacks $p: $(echo $depends)"
done
grep -qE '^\s+dh \$@ --buildsystem=cmake' "$src/debian/rules" && ok "debian/rules: dh with the cmake buildsystem" \
  || bad "debian/rules: no 'dh \$@ --buildsystem=cmake'"
grep -qE '^\s+dh_installsystemd .*--no-start' "$src/debian/rules" \
  && ok "debian/rules: dh_installsystemd --no-start (enabled, not started)" \
  || bad "debian/rules: dh_installsystemd without --no-start"
unit="$src/contrib/systemd/mxguard.service"
fixed=$(grep -nE '^Exec[A-Za-z]*=' "$unit" | grep -E '/usr/local|/usr/sbin|/etc/mxguard')
[[ -z "$fixed" ]] && grep -q '^ExecStart=@MXGUARD_SBINDIR@/mxguard --config @MXGUARD_CONFDIR@/mxguard.conf' "$unit" \
  && ok "unit template: ExecStart from @MXGUARD_SBINDIR@ and @MXGUARD_CONFDIR@" \
  || bad "unit template names fixed paths: $fixed $(grep '^ExecStart=' "$unit")"
tb_summary
