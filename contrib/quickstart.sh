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
# A unix socket only mxguard and its group can reach: libmilter trusts whatever connects, and a
# TCP port, even on 127.0.0.1, is open to every local user. Debian's smtpd runs chrooted in
# /var/spool/postfix, so the socket goes there when Postfix is installed (the path smtpd sees
# inside its jail drops that prefix).
if [[ -d /var/spool/postfix ]]; then
  sockdir=/var/spool/postfix/mxguard
  milter=unix:$sockdir/mxguard.sock
  [[ "$(postconf -hF smtp/inet/chroot 2>/dev/null)" == y ]] && milter=unix:/mxguard/mxguard.sock
else
  sockdir=/run/mxguard
  milter=unix:$sockdir/mxguard.sock
fi
install -d -o mxguard -g mxguard -m 0750 "$sockdir"
build/mxguard --config '' --check-config --policy policies/default.conf --socket "unix:$sockdir/mxguard.sock"
cat <<LINES

Let Postfix reach the socket (group mxguard), then restart it:

    adduser postfix mxguard && systemctl restart postfix

Add to /etc/postfix/main.cf, then run \`postfix reload\`:

    smtpd_milters = $milter
    milter_default_action = tempfail

mxguard now runs in the foreground (Ctrl-C stops it; kill -HUP reloads the policy).
Test a transaction without Postfix:  build/mxguard-check --policy policies/default.conf --client-ip 192.0.2.1 --helo mail.example.com --from a@example.com --rcpt b@example.net
LINES
exec build/mxguard --config '' --foreground --user mxguard --policy policies/default.conf \
  --socket "unix:$sockdir/mxguard.sock"
