#!/usr/bin/env bash
# install-deps.sh - install every build (and, with --test, test) dependency from Debian 12 packages;
# with --test also unpack Sendmail's .debs (not installed: they conflict with postfix) into
# SENDMAIL_CACHE for tests/integration/sendmail_test.sh. --list build|test prints one list.
# Must not: stop, disable, restart or reconfigure a service the system has (it may be a live mail
# server: its Postfix, resolver, Redis). No service command is run at all; during our own
# `apt-get install`, a temporary /usr/sbin/policy-rc.d (exit 101; only when the system has none)
# keeps the new packages' maintainer scripts from starting their services, and is removed on exit
# whatever happens. Tests start private instances of what they need. Also must not: download
# anything outside Debian's archive, give an installed Postfix another debconf answer, or install
# (dpkg -i) sendmail.
# Commands are looked up in PATH (tests/integration/install_deps_test.sh puts stand-ins there).
# Environment: MXGUARD_POLICY_RC_D (default /usr/sbin/policy-rc.d) and MXGUARD_ETC_DIR (default
# /etc, where the notice looks for boot-time links) exist for that test.
set -euo pipefail

# build_pkgs: what building needs (debian/control's Build-Depends must list the same:
# tests/package/debian_metadata_test.sh compares them).
build_pkgs=(
  build-essential cmake pkg-config
  libmilter-dev libunbound-dev libevent-dev libssl-dev
  libboost-program-options-dev
  libspf2-dev libopendkim-dev libhiredis-dev
  libopendmarc-dev libpsl-dev publicsuffix  # dmarc: record parser, organisational domain
  libmicrohttpd-dev  # the optional /metrics listener (mxguard_milter only)
  libre2-dev libidn2-dev  # maps: regexp maps (RE2, linear time), IDN keys and subjects
  libgtest-dev libgmock-dev libyaml-cpp-dev nlohmann-json3-dev
)
test_pkgs=(
  postfix swaks nsd unbound miltertest redis-server
  dnsutils iproute2 python3 procps netcat-openbsd bc openssl python3-dkim
  curl  # metrics_test.sh scrapes /metrics
  libxml2-utils  # dmarc_report_test.sh: xmllint validates the reports against RFC 7489 appendix C
  # tests/fuzz (reliability.fuzz_short): libFuzzer comes with clang's runtime libraries.
  clang libclang-rt-14-dev
  # tests/reliability soaks (valgrind on demand) and bench/ (callgrind; rspamd is the milter the
  # benchmark compares with, run privately by bench/rspamd.sh, never as the system service).
  valgrind rspamd
  # systemd_test.sh: systemd-analyze verify of the unit (the systemd package is only the tool
  # here, nothing is started), groff and man to render the man pages, logrotate to rotate.
  systemd groff-base man-db logrotate
  # sendmail_test.sh: m4 builds its sendmail.cf; util-linux gives unshare/mount; the rest are the
  # runtime libraries of the unpacked sendmail-bin (apt-cache depends sendmail-bin) - none of them
  # conflicts with postfix.
  m4 util-linux libc6 libdb5.3 libldap-2.5-0 liblockfile1 libnsl2 libsasl2-2 libssl3 libwrap0
  # tests/package: dpkg-buildpackage (dpkg-dev) with debhelper builds the .deb, lintian checks it,
  # debootstrap makes the clean Debian 12 root it is installed into (Rules-Requires-Root: no, so
  # no fakeroot).
  dpkg-dev debhelper lintian debootstrap
)
# Unpacked (dpkg-deb -x), never installed: sendmail-bin conflicts with postfix.
sendmail_debs=(sendmail-bin sendmail-base sendmail-cf)
SENDMAIL_CACHE=${SENDMAIL_CACHE:-/var/cache/mxguard-test/sendmail}
POLICY_RC_D=${MXGUARD_POLICY_RC_D:-/usr/sbin/policy-rc.d}
ETC_DIR=${MXGUARD_ETC_DIR:-/etc}
POLICY_RC_D_MARK="written by mxguard contrib/install-deps.sh"

with_tests=0
case "${1:-}" in
  "") ;;
  --test) with_tests=1 ;;
  --list)
    case "${2:-}" in
      build) printf '%s\n' "${build_pkgs[@]}" ;;
      test) printf '%s\n' "${test_pkgs[@]}" ;;
      *) echo "usage: install-deps.sh --list build|test" >&2; exit 64 ;;
    esac
    exit 0 ;;
  *) echo "usage: install-deps.sh [--test | --list build|test]" >&2; exit 64 ;;
esac

pkgs=("${build_pkgs[@]}")
((with_tests)) && pkgs+=("${test_pkgs[@]}")

SUDO=""
((EUID != 0)) && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_updated=0

# unpack_sendmail: SENDMAIL_CACHE/root/ holds the three packages' files, SENDMAIL_CACHE/VERSION
# the version they came from; skipped when that is already the candidate version.
unpack_sendmail() {
  local want have="" deb
  want=$(apt-cache policy sendmail-bin 2>/dev/null | sed -n 's/^ *Candidate: //p')
  [[ -r "$SENDMAIL_CACHE/VERSION" ]] && have=$(cat "$SENDMAIL_CACHE/VERSION")
  if [[ -n "$have" && -x "$SENDMAIL_CACHE/root/usr/libexec/sendmail/sendmail" ]] \
    && [[ -z "$want" || "$want" == "(none)" || "$want" == "$have" ]]; then
    echo "install-deps: sendmail $have already unpacked in $SENDMAIL_CACHE/root"
    return 0
  fi
  if ((!apt_updated)); then $SUDO apt-get update -qq; apt_updated=1; fi
  want=$(apt-cache policy sendmail-bin | sed -n 's/^ *Candidate: //p')
  $SUDO rm -rf "$SENDMAIL_CACHE/debs" "$SENDMAIL_CACHE/root" "$SENDMAIL_CACHE/VERSION"
  $SUDO install -d -o root -g root -m 755 "$SENDMAIL_CACHE/debs" "$SENDMAIL_CACHE/root"
  # apt-get download writes into the current directory; as root apt warns that it cannot drop
  # to _apt for a root-owned directory, which is harmless here.
  (
    cd "$SENDMAIL_CACHE/debs" || exit 1
    $SUDO apt-get download -qq "${sendmail_debs[@]}" 2>&1 | grep -v "unsandboxed as root" || true
  )
  for deb in "${sendmail_debs[@]}"; do
    compgen -G "$SENDMAIL_CACHE/debs/${deb}_*.deb" >/dev/null \
      || { echo "install-deps: apt-get download $deb failed" >&2; exit 1; }
  done
  for deb in "$SENDMAIL_CACHE"/debs/*.deb; do $SUDO dpkg-deb -x "$deb" "$SENDMAIL_CACHE/root"; done
  echo "$want" | $SUDO tee "$SENDMAIL_CACHE/VERSION" >/dev/null
  echo "install-deps: unpacked sendmail $want into $SENDMAIL_CACHE/root"
}

# installed_packages: the names of all installed packages, sorted.
installed_packages() {
  dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null \
    | awk '$2 == "install" && $4 == "installed" { print $1 }' | sort -u
}

# A policy-rc.d we wrote ourselves (policy_rc_d_ours=1) is removed on exit, also after a failure
# or a signal; one that was already there is never touched.
policy_rc_d_ours=0
remove_policy_rc_d() {
  ((policy_rc_d_ours)) || return 0
  if grep -qF "$POLICY_RC_D_MARK" "$POLICY_RC_D" 2>/dev/null; then
    $SUDO rm -f "$POLICY_RC_D"
  fi
  policy_rc_d_ours=0
}
trap remove_policy_rc_d EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# block_service_starts: invoke-rc.d and deb-systemd-invoke (what maintainer scripts call) ask
# policy-rc.d first; exit 101 = "action forbidden", so no service of a newly installed package is
# started or restarted by our transaction. Existing services are not stopped either way.
block_service_starts() {
  if [[ -e "$POLICY_RC_D" || -L "$POLICY_RC_D" ]]; then
    echo "install-deps: $POLICY_RC_D exists: left as it is (it decides whether new services start)"
    return 0
  fi
  # set -C: created only if still absent (never overwrite one that appeared meanwhile).
  if printf '#!/bin/sh\n# %s for its own apt-get install; removed\n# when that ends. 101: no service is started by a maintainer script.\nexit 101\n' \
       "$POLICY_RC_D_MARK" | $SUDO sh -c 'set -C; cat > "$1"' sh "$POLICY_RC_D"; then
    policy_rc_d_ours=1
    $SUDO chmod 755 "$POLICY_RC_D"
  else
    echo "install-deps: cannot create $POLICY_RC_D; not installing (services could start)" >&2
    exit 1
  fi
}

# notice_services PACKAGE...: names the packages among PACKAGE... that ship a service Debian
# enabled at boot (a systemd unit linked into a .wants/.requires directory, or an init script with
# an S link in rc2-5.d). Nothing is changed: the admin decides.
notice_services() {
  local pkg file unit name found lines=()
  for pkg in "$@"; do
    found=()
    while IFS= read -r file; do
      case "$file" in
        /lib/systemd/system/*.service | /usr/lib/systemd/system/*.service \
          | /lib/systemd/system/*.socket | /usr/lib/systemd/system/*.socket \
          | /lib/systemd/system/*.timer | /usr/lib/systemd/system/*.timer)
          unit=${file##*/}
          [[ "$unit" == *@.* ]] && continue  # a template is enabled only as an instance
          if compgen -G "$ETC_DIR/systemd/system/*.wants/$unit" >/dev/null \
            || compgen -G "$ETC_DIR/systemd/system/*.requires/$unit" >/dev/null; then
            found+=("$unit")
          fi ;;
        /etc/init.d/*)
          name=${file##*/}
          # Only when no unit of that name exists (else systemd runs the unit, checked above).
          dpkg-query -L "$pkg" 2>/dev/null | grep -qE "/lib/systemd/system/$name\.service$" && continue
          compgen -G "$ETC_DIR/rc[2345].d/S[0-9][0-9]$name" >/dev/null && found+=("/etc/init.d/$name") ;;
      esac
    done < <(dpkg-query -L "$pkg" 2>/dev/null)
    ((${#found[@]})) && lines+=("  $pkg: ${found[*]}")
  done
  ((${#lines[@]})) || return 0
  echo "install-deps: NOTICE: these newly installed packages have services that Debian enabled at boot."
  echo "  They were not started now, and nothing else was stopped, disabled or reconfigured; they"
  echo "  will start at the next boot unless you disable them (e.g. systemctl disable UNIT)."
  echo "  mxguard's tests never use them: they run private instances on loopback ports."
  printf '%s\n' "${lines[@]}"
}

missing=()
installed=$(installed_packages)
for p in "${pkgs[@]}"; do
  grep -qxF -- "$p" <<<"$installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#pkgs[@]} packages already installed"
  ((with_tests)) && unpack_sendmail
  exit 0
fi

# A Postfix installed by us must not create a site configuration: tests run private instances.
# Only then: an installed Postfix keeps its own debconf answers.
if [[ " ${missing[*]} " == *" postfix "* ]]; then
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
fi
$SUDO apt-get update -qq
apt_updated=1
block_service_starts
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
remove_policy_rc_d
echo "install-deps: installed ${missing[*]}"
mapfile -t new_pkgs < <(comm -13 <(echo "$installed") <(installed_packages))
((${#new_pkgs[@]})) && notice_services "${new_pkgs[@]}"
((with_tests)) && unpack_sendmail
exit 0
