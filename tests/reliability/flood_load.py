#!/usr/bin/env python3
"""flood_load.py - SMTP load whose every message is new to a cache: message N's sender comes from
a template ({n}: Python format syntax, so "{n:x<64}" pads N with x to 64 octets), and with
--dkim-signatures K it carries K DKIM-Signature fields with the selectors s{N*K+j} of
--dkim-domain (new key names: the signatures need not verify, the key lookups are the load).
One message per session (connect, EHLO, MAIL, RCPT, DATA, QUIT), --sessions at a time, messages
--first .. --first + --messages - 1.

Output: one JSON object on stdout: sent, accepted, tempfail, reject, error (no answer, connection
closed, not SMTP), elapsed_s, latency_ms {p50, p99, max}. --log: one JSON line per message: n,
sender, kind, step (the command whose reply ended the message: banner, ehlo, mail, rcpt, data,
eom), lines (that reply's lines), ms.
Must not: connect anywhere but the given host (loopback in tests).
"""
import argparse
import asyncio
import json
import sys
import time


class Outcome(Exception):
    def __init__(self, kind, step, lines):
        super().__init__(lines[-1])
        self.kind, self.step, self.lines = kind, step, lines


async def read_reply(reader, timeout, step):
    lines = []
    while True:
        try:
            raw = await asyncio.wait_for(reader.readline(), timeout)
        except asyncio.TimeoutError:
            raise Outcome("error", step, ["no reply within %.0f s" % timeout])
        if not raw:
            raise Outcome("error", step, ["connection closed without a reply"])
        line = raw.decode("latin-1").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            break
    code = int(lines[-1][:3]) if lines[-1][:3].isdigit() else 0
    return code, lines


def message_text(a, n, sender):
    fields = []
    for j in range(a.dkim_signatures):
        fields.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=s%d;\r\n"
                      "\th=from:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
                      "\tb=%s" % (a.dkim_domain, n * a.dkim_signatures + j, "AAAA" * (j + 1)))
    fields += ["From: <%s>" % sender, "To: <%s>" % a.rcpt, "Subject: %s-%d" % (a.run, n),
               "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
               "Message-ID: <%s-%d@flood.example.net>" % (a.run, n)]
    return "\r\n".join(fields) + "\r\n\r\nflood message %d\r\n." % n


async def one_message(a, n, stats):
    start = time.monotonic()
    sender = a.sender.format(n=n)
    writer = None
    kind, step, lines = "error", "connect", [""]
    try:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(a.host, a.port), a.timeout)
        except (OSError, asyncio.TimeoutError) as e:
            raise Outcome("error", "connect", ["connect: %s" % e])

        async def exchange(name, command, want):
            if command is not None:
                writer.write(command.encode("latin-1") + b"\r\n")
                await writer.drain()
            code, reply = await read_reply(reader, a.timeout, name)
            if code // 100 != want:
                raise Outcome({4: "tempfail", 5: "reject"}.get(code // 100, "error"), name, reply)
            return reply

        await exchange("banner", None, 2)
        await exchange("ehlo", "EHLO " + a.helo, 2)
        await exchange("mail", "MAIL FROM:<%s>" % sender, 2)
        await exchange("rcpt", "RCPT TO:<%s>" % a.rcpt, 2)
        await exchange("data", "DATA", 3)
        lines = await exchange("eom", message_text(a, n, sender), 2)
        kind, step = "accepted", "eom"
        try:
            writer.write(b"QUIT\r\n")
            await writer.drain()
            await asyncio.wait_for(reader.readline(), 5)
        except (OSError, asyncio.TimeoutError):
            pass
    except Outcome as o:
        kind, step, lines = o.kind, o.step, o.lines
    except OSError as e:
        kind, lines = "error", ["socket: %s" % e]
    finally:
        if writer is not None:
            writer.close()
    ms = (time.monotonic() - start) * 1000
    stats[kind] += 1
    stats["latency"].append(ms)
    if a.log_file:
        a.log_file.write(json.dumps({"n": n, "sender": sender, "kind": kind, "step": step,
                                     "lines": lines, "ms": round(ms, 1)}) + "\n")


async def run(a):
    stats = {"sent": 0, "accepted": 0, "tempfail": 0, "reject": 0, "error": 0, "latency": []}
    numbers = iter(range(a.first, a.first + a.messages))

    async def worker():
        for n in numbers:  # one iterator shared by every worker (one event loop: no lock)
            stats["sent"] += 1
            await one_message(a, n, stats)

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(a.sessions)))
    return stats, time.monotonic() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--messages", type=int, default=100)
    p.add_argument("--first", type=int, default=0, help="number of the first message")
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--helo", default="mail.client.example.net")
    p.add_argument("--from", dest="sender", default="a@flood.example.net",
                   help="MAIL FROM template, formatted with n (Python str.format)")
    p.add_argument("--rcpt", default="user@example.org")
    p.add_argument("--run", default="flood", help="Subject and Message-ID prefix")
    p.add_argument("--dkim-signatures", type=int, default=0)
    p.add_argument("--dkim-domain", default="flood.example.net")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--log", default="")
    a = p.parse_args()
    a.log_file = open(a.log, "a") if a.log else None
    stats, elapsed = asyncio.run(run(a))
    if a.log_file:
        a.log_file.close()
    lat = sorted(stats.pop("latency")) or [0]
    stats["elapsed_s"] = round(elapsed, 2)
    stats["latency_ms"] = {"p50": round(lat[len(lat) // 2], 1),
                           "p99": round(lat[min(len(lat) - 1, len(lat) * 99 // 100)], 1),
                           "max": round(lat[-1], 1)}
    json.dump(stats, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
