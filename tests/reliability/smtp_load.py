#!/usr/bin/env python3
"""smtp_load.py - an SMTP load generator that counts what happened to every message.

smtp-source only says how many messages it sent; a reliability test must know, for each one,
whether the server accepted it (250 after DATA), deferred it (4xx at any step), rejected it (5xx)
or dropped the connection without an answer, and how long each reply took. One message per
session (connect, EHLO, optional XCLIENT + EHLO, MAIL, RCPT, DATA, QUIT), --sessions at a time.

Output: one JSON object on stdout: sent, accepted, tempfail, reject, error, replies (the final
non-2xx reply lines with counts), accepted_ids (with --ids-file: written there instead),
latency_ms {p50, p99, max} per message, max_reply_ms (the longest wait for any one reply), and
elapsed_s. With --hold-s every session, once its message is answered, stays open that long
before QUIT (concurrency tests). Subjects are "RUN-N" so a test can match deliveries.
Must not: connect anywhere but the given host (loopback in tests).
"""
import argparse
import asyncio
import ipaddress
import json
import os
import sys
import time


class Outcome(Exception):
    def __init__(self, kind, line):
        super().__init__(line)
        self.kind = kind
        self.line = line


async def read_reply(reader, timeout, waits):
    """Reads one (possibly multi-line) reply; returns (code, last line)."""
    start = time.monotonic()
    lines = []
    while True:
        try:
            raw = await asyncio.wait_for(reader.readline(), timeout)
        except asyncio.TimeoutError:
            raise Outcome("error", "no reply within %.0f s" % timeout)
        if not raw:
            raise Outcome("error", "connection closed without a reply")
        line = raw.decode("latin-1").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            break
    waits.append((time.monotonic() - start) * 1000)
    code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else 0
    return code, lines[-1]


async def one_message(a, n, stats):
    waits = []
    connect_ms = 0.0
    start = time.monotonic()
    wall_start = time.time()
    writer = None
    kind, line = "error", ""
    try:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(a.host, a.port), a.timeout)
            connect_ms = (time.monotonic() - start) * 1000
        except (OSError, asyncio.TimeoutError) as e:
            raise Outcome("error", "connect: %s" % e)

        async def step(command, want):
            if command is not None:
                writer.write(command.encode("latin-1") + b"\r\n")
                await writer.drain()
            code, last = await read_reply(reader, a.timeout, waits)
            if code // 100 != want:
                kind = {4: "tempfail", 5: "reject"}.get(code // 100, "error")
                raise Outcome(kind, last)
            return last

        await step(None, 2)
        await step("EHLO " + a.helo, 2)
        if a.xclient_addr or a.xclient_seq:
            if a.xclient_seq:
                # Stays inside the start's /16 (the test zones' PTR wildcard), reusing addresses
                # after 65,534 messages: a long run once walked into 198.19.0.0/16, which has no
                # PTR, and every message there was deferred by rdns.
                base = int(ipaddress.ip_address(a.xclient_seq))
                net = base & ~0xFFFF
                addr = str(ipaddress.ip_address(net + (base - net + n - 1) % 65534 + 1))
            else:
                addr = a.xclient_addr[n % len(a.xclient_addr)]
            xclient = "XCLIENT ADDR=%s NAME=%s HELO=%s" % (addr, a.xclient_name, a.helo)
            await step(xclient, 2)
            await step("EHLO " + a.helo, 2)
        sender = a.sender.replace("{n}", str(n))
        await step("MAIL FROM:<%s>" % sender, 2)
        await step("RCPT TO:<%s>" % a.rcpt, 2)
        await step("DATA", 3)
        subject = "%s-%d" % (a.run, n)
        body = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
                "Message-ID: <%s@load.example.net>\r\n\r\n%s\r\n.") % (
                    sender, a.rcpt, subject,
                    time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), subject,
                    "x" * a.body_bytes)
        line = await step(body, 2)
        kind = "accepted"
        stats["accepted_ids"].append(n)
        if a.hold_s > 0:
            await asyncio.sleep(a.hold_s)
        try:
            writer.write(b"QUIT\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.readline(), 5)
        except (OSError, asyncio.TimeoutError):
            pass
    except Outcome as o:
        kind, line = o.kind, o.line
    except OSError as e:
        kind, line = "error", "socket: %s" % e
    finally:
        if writer is not None:
            writer.close()
    stats[kind] += 1
    if a.log_file:
        a.log_file.write(json.dumps({"n": n, "start": round(wall_start, 3),
                                     "end": round(time.time(), 3), "kind": kind, "line": line,
                                     "max_wait_ms": round(max(waits) if waits else 0, 1),
                                     # Where a slow message spent its time: TCP connect, then
                                     # each reply in order (banner, EHLO, [XCLIENT, EHLO], ...).
                                     "connect_ms": round(connect_ms, 1),
                                     "waits_ms": [round(w) for w in waits]}) + "\n")
        a.log_file.flush()
    if kind != "accepted":
        stats["replies"][line] = stats["replies"].get(line, 0) + 1
    stats["latency"].append((time.monotonic() - start) * 1000)
    if waits:
        stats["max_reply_ms"] = max(stats["max_reply_ms"], max(waits))


async def run(a):
    stats = {"started": 0, "accepted": 0, "tempfail": 0, "reject": 0, "error": 0, "replies": {},
             "latency": [], "max_reply_ms": 0.0, "accepted_ids": []}
    counter = {"next": 0}  # one event loop: no lock needed
    deadline = time.monotonic() + a.duration if a.duration > 0 else None

    async def worker():
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return
            if a.stop_file and os.path.exists(a.stop_file):
                return
            n = counter["next"]
            if n >= a.messages:
                return
            counter["next"] += 1
            stats["started"] += 1
            await one_message(a, n, stats)
            if a.progress and (stats["accepted"] + stats["tempfail"] + stats["reject"] +
                               stats["error"]) % a.progress == 0:
                with open(a.progress_file, "w") as f:
                    f.write("%d\n" % counter["next"])

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(a.sessions)))
    return stats, time.monotonic() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--messages", type=int, default=100)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--helo", default="mail.client.example.net")
    p.add_argument("--xclient-addr", action="append", default=[],
                   help="present this client address (repeatable: round-robin)")
    p.add_argument("--xclient-seq", default="",
                   help="present START + N as message N's client address (no DNS cache hits)")
    p.add_argument("--xclient-name", default="mail.client.example.net")
    p.add_argument("--from", dest="sender", default="sender@client.example.net",
                   help="MAIL FROM; {n} becomes the message number")
    p.add_argument("--rcpt", default="user@example.net")
    p.add_argument("--run", default="load", help="subject prefix")
    p.add_argument("--body-bytes", type=int, default=200)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--hold-s", type=float, default=0)
    p.add_argument("--ids-file", default="")
    p.add_argument("--duration", type=float, default=0,
                   help="stop starting messages after this many seconds (sent = those started)")
    p.add_argument("--stop-file", default="",
                   help="stop starting messages once this file exists")
    p.add_argument("--log", default="", help="one JSON line per message: n, start, end (epoch "
                   "seconds), kind, line (the final reply), max_wait_ms, connect_ms, waits_ms")
    p.add_argument("--progress", type=int, default=0,
                   help="every N finished messages, write the count started to --progress-file")
    p.add_argument("--progress-file", default="")
    a = p.parse_args()
    a.log_file = open(a.log, "w") if a.log else None
    stats, elapsed = asyncio.run(run(a))
    lat = sorted(stats.pop("latency")) or [0]
    ids = sorted(stats.pop("accepted_ids"))
    out = dict(stats)
    out["sent"] = out.pop("started")
    out["elapsed_s"] = round(elapsed, 2)
    out["latency_ms"] = {"p50": round(lat[len(lat) // 2], 1),
                         "p99": round(lat[min(len(lat) - 1, len(lat) * 99 // 100)], 1),
                         "max": round(lat[-1], 1)}
    out["max_reply_ms"] = round(out["max_reply_ms"], 1)
    if a.ids_file:
        with open(a.ids_file, "w") as f:
            f.writelines("%s-%d\n" % (a.run, n) for n in ids)
    else:
        out["accepted_ids"] = ids
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
