#!/usr/bin/env python3
"""smtp_dialogue.py - a tiny SMTP client for integration tests: sends the commands it reads (one a
line, from a file or stdin) and prints every reply line, so a test can assert exact replies in a
dialogue swaks cannot hold (many RSETs or messages in one connection, a second EHLO).
Output: "<<< " + each reply line, ">>> " + each command; "<EOF>" when the server closed the
connection (checked after every 421 and whenever a read or write finds it closed), then it stops.
The pseudo-command MESSAGE sends DATA, a minimal message after the 354, and the final dot.
Must not: connect anywhere but the host and port it is given, or retry anything (the test
asserts what one client saw).
"""
import argparse
import socket
import sys


class Closed(Exception):
    pass


def read_reply(f):
    """Reads one (possibly multi-line) reply; returns its lines without CRLF."""
    lines = []
    while True:
        raw = f.readline()
        if not raw:
            raise Closed()
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("commands", nargs="?", help="file of commands (default: stdin)")
    a = p.parse_args()
    commands = open(a.commands) if a.commands else sys.stdin
    sock = socket.create_connection((a.host, a.port), timeout=a.timeout)
    f = sock.makefile("rb")
    out = sys.stdout

    def show(lines):
        for line in lines:
            out.write("<<< " + line + "\n")
        out.flush()

    def send(text):
        out.write(">>> " + text + "\n")
        out.flush()
        sock.sendall(text.encode() + b"\r\n")

    def closed_after_421(lines):
        # RFC 5321 3.8: after a 421 the server closes; the test wants to see that it did.
        if not lines[-1].startswith("421"):
            return False
        sock.settimeout(5)
        try:
            rest = f.read(1)
        except socket.timeout:
            out.write("<still open>\n")
            return False
        if rest:
            out.write("<data after 421: %r>\n" % rest)
            return False
        return True

    try:
        show(read_reply(f))
        for cmd in commands:
            cmd = cmd.rstrip("\r\n")
            if not cmd:
                continue
            if cmd == "MESSAGE":
                send("DATA")
                lines = read_reply(f)
                show(lines)
                if closed_after_421(lines):
                    raise Closed()
                if not lines[-1].startswith("354"):
                    continue
                sock.sendall(b"From: <sender@example.org>\r\nTo: <user@example.org>\r\n"
                             b"Subject: smtp_dialogue\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
                             b"Message-ID: <dialogue@example.org>\r\n\r\nhello\r\n.\r\n")
                out.write(">>> MESSAGE (headers, body and the final dot)\n")
            else:
                send(cmd)
            lines = read_reply(f)
            show(lines)
            if closed_after_421(lines):
                raise Closed()
    except (Closed, BrokenPipeError, ConnectionResetError):
        out.write("<EOF>\n")
        out.flush()
        return 0
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
