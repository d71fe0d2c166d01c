#!/usr/bin/env bash
# install-deps.sh - install every build (and, with --test, test) dependency from Debian 12 packages.
# Must not: download anything outside Debian's archive, or configure a system-wide Postfix.
set -euo pipefail

with_tests=0
[[ "${1:-}" == "--test" ]] && with_tests=1

build_pkgs=(
  build-essential cmake pkg-config
  libmilter-dev libunbound-dev libevent-dev libssl-dev
  libboost-program-options-dev
  libspf2-dev libopendkim-dev libhiredis-dev
  libgtest-dev libgmock-dev libyaml-cpp-dev
)
test_pkgs=(
  postfix swaks nsd unbound miltertest redis-server
  dnsutils iproute2 python3 procps netcat-openbsd bc openssl python3-dkim
)

pkgs=("${build_pkgs[@]}")
((with_tests)) && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#pkgs[@]} packages already installed"
  exit 0
fi

SUDO=""
((EUID != 0)) && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix must install without creating a site configuration: tests run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The packaged daemons must not run system-wide: tests start their own on loopback ports.
for svc in nsd unbound redis-server postfix; do
  $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
echo "install-deps: installed ${missing[*]}"
