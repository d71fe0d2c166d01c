#!/usr/bin/env python3
"""raw_dialogue.py - send exact bytes as SMTP commands and judge every reply line.

Commands come one per line from --commands FILE as Python bytes literals (b"EHLO a%s\\xff"), so
a test can send NUL, 8-bit bytes and printf directives that a shell or swaks would mangle. The
pseudo-command b"MESSAGE" sends DATA, a short message and the dot when DATA got 354.
Output: one JSON object: "replies" (per command, the reply lines as latin-1 text), "problems"
(reply lines that are not printable ASCII, longer than 510 octets, or whose code differs from
their reply's first line; a reply that came without a command, i.e. anything after QUIT's 221),
"closed" (the server closed the connection after the last reply).
Must not: connect anywhere but the host and port it is given.
"""
import argparse
import ast
import json
import socket
import sys


def read_reply(f):
    lines = []
    while True:
        raw = f.readline()
        if not raw:
            return lines, True
        lines.append(raw)
        line = raw.rstrip(b"\r\n")
        if len(line) < 4 or line[3:4] != b"-":
            return lines, False


def judge(lines, problems, where):
    code = lines[0][:3] if lines else b""
    for raw in lines:
        line = raw[:-2] if raw.endswith(b"\r\n") else raw
        if not raw.endswith(b"\r\n"):
            problems.append("%s: line without CRLF: %r" % (where, raw[:80]))
        if any(b < 0x20 or b > 0x7e for b in line):
            problems.append("%s: non-printable byte in %r" % (where, line[:120]))
        if len(line) > 510:
            problems.append("%s: line of %d octets" % (where, len(line)))
        if line[:3] != code:
            problems.append("%s: code %r in a reply that began with %r" % (where, line[:3], code))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--commands", required=True)
    p.add_argument("--timeout", type=float, default=30)
    a = p.parse_args()
    commands = [ast.literal_eval(l) for l in open(a.commands) if l.strip()]
    sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
    f = sock.makefile("rb")
    problems, replies = [], []
    lines, closed = read_reply(f)
    judge(lines, problems, "banner")
    for cmd in commands:
        if closed:
            break
        if cmd == b"MESSAGE":
            sock.sendall(b"DATA\r\n")
            lines, closed = read_reply(f)
            judge(lines, problems, "DATA")
            replies.append([l.decode("latin-1").rstrip("\r\n") for l in lines])
            if closed or not lines[-1].startswith(b"354"):
                continue
            sock.sendall(b"From: <s@client.example.net>\r\nTo: <user@example.net>\r\n"
                         b"Subject: hostile\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
                         b"Message-ID: <hostile@client.example.net>\r\n\r\nhello\r\n.\r\n")
            cmd = b"(end of data)"
        else:
            sock.sendall(cmd + b"\r\n")
        lines, closed = read_reply(f)
        judge(lines, problems, cmd.split(b" ")[0].decode("latin-1"))
        replies.append([l.decode("latin-1").rstrip("\r\n") for l in lines])
    if not closed:
        sock.settimeout(3)
        try:
            rest = f.read(1)
            closed = rest == b""
            if rest:
                problems.append("data after the last reply: %r" % (rest + f.read(200))[:200])
        except socket.timeout:
            pass
    json.dump({"replies": replies, "problems": problems, "closed": closed}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
