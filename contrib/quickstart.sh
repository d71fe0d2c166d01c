#!/usr/bin/env bash
# quickstart.sh - install dependencies (Debian 12), build, and start mxguard in the foreground
# with the default policy and its own embedded resolver; prints the lines to add to Postfix.
# Must not: change the system's Postfix configuration (the admin adds the printed lines).
set -euo pipefail
cd "$(dirname "$0")/.."
bash contrib/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMXGUARD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
# mxguard refuses to serve as root: it binds, then drops to this unprivileged system user.
id mxguard >/dev/null 2>&1 ||
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mxguard
build/mxguard --check-config --policy policies/default.conf --socket inet:10025@127.0.0.1
cat <<'LINES'

Add to /etc/postfix/main.cf, then run `postfix reload`:

    smtpd_milters = inet:127.0.0.1:10025
    milter_default_action = tempfail

mxguard now runs in the foreground (Ctrl-C stops it; kill -HUP reloads the policy).
Test a transaction without Postfix:  build/mxguard-check --policy policies/default.conf --client-ip 192.0.2.1 --helo mail.example.com --from a@example.com --rcpt b@example.net
LINES
exec build/mxguard --foreground --user mxguard --policy policies/default.conf \
  --socket inet:10025@127.0.0.1
