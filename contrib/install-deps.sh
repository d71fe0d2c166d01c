#!/usr/bin/env bash
# install-deps.sh - install every build (and, with --test, test) dependency from Debian 12 packages;
# with --test also unpack Sendmail's .debs (not installed: they conflict with postfix) into
# SENDMAIL_CACHE for tests/integration/sendmail_test.sh.
# Must not: download anything outside Debian's archive, configure a system-wide Postfix, or install
# (dpkg -i) sendmail.
set -euo pipefail

with_tests=0
[[ "${1:-}" == "--test" ]] && with_tests=1

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
)
# Unpacked (dpkg-deb -x), never installed: sendmail-bin conflicts with postfix.
sendmail_debs=(sendmail-bin sendmail-base sendmail-cf)
SENDMAIL_CACHE=/var/cache/mxguard-test/sendmail

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

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#pkgs[@]} packages already installed"
  ((with_tests)) && unpack_sendmail
  exit 0
fi

# Postfix must install without creating a site configuration: tests run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
apt_updated=1
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The packaged daemons must not run system-wide: tests start their own on loopback ports.
for svc in nsd unbound redis-server postfix rspamd; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "install-deps: installed ${missing[*]}"
((with_tests)) && unpack_sendmail
exit 0
