#!/usr/bin/env python3
"""make_replay_input.py N [SEED] - writes N varied transaction records (the JSON-lines format the
daemon writes with [record] file=, read by `mxguard-check --replay`) to stdout, for the soak test.

Transaction i takes its client address, HELO, sender, recipients and header set from fixed pools
with different strides, so the combinations vary but every name in the pools has been seen well
within the first 10% of any run of 10,000 or more (the DNS cache is warm by the end of warm-up).
The mix: clients with and without PTR, listed in the testbed DNSBL, in ranges the testbed nsd
refuses (resolver failure: deferred), IPv6; HELOs good, bare IP, invalid, missing; senders with
SPF pass/fail/permerror/none and the null sender; header sets clean, missing Date, duplicate
From, and none (no DATA in the replay). The recorded verdicts are "accept" with no reason.
Exactly N lines, nothing else; the same N and SEED (default 1) always give the same file.

Must not: read anything, write anywhere but stdout, or use names outside the testbed zones and
the documentation ranges (RFC 5737/3849), so no query can leave the testbed nsd.
"""
import json
import random
import sys


def pools(rng):
    ips = []
    # 192.0.2.0/24: the testbed's reverse zone (a few have PTRs, the rest have none: no_ptr).
    ips += [f"192.0.2.{i}" for i in range(256)]
    # Clients that have PTRs and are special in the zones, weighted up.
    ips += ["192.0.2.10"] * 256 + ["192.0.2.2"] * 16 + ["192.0.2.30"] * 16 + ["192.0.2.21"] * 8
    # 198.51.100.0/24, 203.0.113.0/24: no zone on the testbed nsd (REFUSED: rdns tempfail).
    ips += [f"198.51.100.{i}" for i in range(0, 256, 2)]
    ips += [f"203.0.113.{i}" for i in range(0, 256, 4)]
    ips += ["2001:db8::10"] * 16 + [f"2001:db8::{i:x}" for i in range(32, 64)]
    rng.shuffle(ips)
    helos = (["mail.client.example.net"] * 20 + ["listed.example.net", "partner.example.net"]
             + [f"host{i}.example.net" for i in range(64)]  # NXDOMAIN names
             + ["192.0.2.10", "[192.0.2.10]", "bad_name.example.net", "localhost", None, None])
    senders = (["alice@spfpass.example.net"] * 8 + ["bob@spffail.example.net"] * 3
               + ["carol@spfbroken.example.net"] * 2 + [""] * 3
               + [f"user{i}@d{i % 50}.example.net" for i in range(200)])  # SPF none
    rcpts = [["user@example.org"], ["user@example.org", "postmaster@example.org"],
             ["abuse@example.org"], [f"u{i}@example.org" for i in range(3)]]
    return ips, helos, senders, rcpts


def headers(kind, i, sender):
    frm = sender or "mailer-daemon@example.net"
    date = "Mon, 30 Nov 2026 08:00:00 +0000"
    base = [["Date", date], ["From", f"Sender {i} <{frm}>"], ["To", "user@example.org"],
            ["Subject", f"soak message {i}"], ["Message-ID", f"<soak.{i}@example.net>"]]
    if kind == 0:
        return None  # envelope only: no DATA in the replay
    if kind == 1:
        return base
    if kind == 2:
        return base[1:]  # missing Date: rejected by [headers]
    return base + [["From", f"other <x{i}@example.net>"]]  # duplicate From


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: make_replay_input.py N [SEED]")
    n = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    ips, helos, senders, rcpts = pools(rng)
    out = sys.stdout
    kinds = [0, 0, 1, 1, 1, 1, 2, 3]
    for i in range(n):
        ip = ips[i % len(ips)]
        helo = helos[(i * 7 + i // len(ips)) % len(helos)]
        sender = senders[(i * 13 + i // 97) % len(senders)]
        rec = {
            "time": f"2026-11-30T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
            "queue_id": f"Q{i:X}",
            "client_address": ip,
            "client_name": "mail.client.example.net" if ip == "192.0.2.10" else "unknown",
            "helo": helo,
            "auth_user": "",
            "sender": sender,
            "recipients": rcpts[(i * 5) % len(rcpts)],
            "action": "accept",
            "reason": "",
            "reply": "",
        }
        hs = headers(kinds[(i * 3 + i // 11) % len(kinds)], i, sender)
        if hs is not None:
            rec["headers"] = hs
        out.write(json.dumps(rec, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.exit(1)
