#!/usr/bin/env python3
"""scripted_smtp.py - an SMTP server that behaves as a test tells it, for callout probe tests.

--mode: normal (users in --users get 250 at RCPT, others "550 5.1.1 <addr>: Recipient address
rejected: User unknown in virtual mailbox table"), accept-all, greylist (450 4.7.1 at RCPT),
banner421, multiline (multi-line banner, EHLO and RCPT replies), drop-after-ehlo, tarpit (accepts
the connection, never speaks), drip (the banner one byte a second, then normal), hostile (RCPT gets a 5 KB
multi-line 550 carrying printf directives, NUL, 8-bit bytes, a bare CR and a fake "250 ..."; for
local parts "mixed..." also a line with code 250), refuse-null (550 5.7.1 to MAIL FROM:<>), garbage (a banner that is
not SMTP), helo-only (502 to EHLO). --port 0 picks a port and prints it as the first stdout line.
--accept-all-domains: RCPT for these domains is always accepted. Each connection appends "connect" to --log, so tests can count probes. --lines FILE: every command line received is
appended to FILE as a Python bytes literal (b'RCPT TO:<a@b>'), so a test can prove that no
line it did not expect (a DATA smuggled inside an address) ever arrived. Listens on 127.0.0.1 only.
Must not: accept DATA (a probe never sends it).
"""
import argparse
import socketserver
import threading
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--mode", default="normal")
    p.add_argument("--users", default="")
    p.add_argument("--log", default="")
    p.add_argument("--accept-all-domains", default="")
    p.add_argument("--lines", default="")
    a = p.parse_args()
    users = {u.lower() for u in a.users.split(",") if u}
    accept_all = {d.lower() for d in a.accept_all_domains.split(",") if d}
    lock = threading.Lock()

    class Handler(socketserver.StreamRequestHandler):
        def say(self, text):
            self.wfile.write((text + "\r\n").encode())
            self.wfile.flush()

        def handle(self):
            if a.log:
                with lock, open(a.log, "a") as f:
                    f.write("connect\n")
            m = a.mode
            if m == "tarpit":
                time.sleep(60)
                return
            if m == "drip":
                try:
                    for ch in b"220 mx.sender.example.net ESMTP\r\n":
                        self.wfile.write(bytes([ch]))
                        self.wfile.flush()
                        time.sleep(1)
                except OSError:
                    return
                m = "dripped"
            if m == "garbage":
                self.say("hello there, I am not an SMTP server")
                return
            if m == "banner421":
                self.say("421 4.3.2 mx.sender.example.net Service not available, closing channel")
                return
            if m == "multiline":
                self.say("220-mx.sender.example.net ESMTP")
                self.say("220 no UCE")
            elif m != "dripped":
                self.say("220 mx.sender.example.net ESMTP")
            for raw in self.rfile:
                if a.lines:
                    with lock, open(a.lines, "a") as f:
                        f.write(repr(raw.rstrip(b"\r\n")) + "\n")
                line = raw.decode("latin-1").rstrip("\r\n")
                cmd = line.upper()
                if cmd.startswith("EHLO"):
                    if m == "helo-only":
                        self.say("502 5.5.2 Error: command not recognized")
                    elif m == "drop-after-ehlo":
                        return
                    else:
                        self.say("250-mx.sender.example.net")
                        self.say("250-PIPELINING")
                        self.say("250 8BITMIME")
                elif cmd.startswith("HELO"):
                    self.say("250 mx.sender.example.net")
                elif cmd.startswith("MAIL FROM:"):
                    if m == "refuse-null" and "<>" in line:
                        self.say("550 5.7.1 <>: null sender not accepted here")
                    else:
                        self.say("250 2.1.0 Ok")
                elif cmd.startswith("RCPT TO:"):
                    addr = line[8:].strip().strip("<>")
                    if m == "hostile":
                        # A local part "mixed..." also gets a line with another reply code.
                        evil = b"evil %s %n %% \x00 \xff\xfe caf\xc3\xa9 bare\rCR 250 2.1.5 Ok "
                        for i in range(24):
                            self.wfile.write(b"550-5.1.1 " + evil + b"x" * 150 + b"\r\n")
                        if addr.lower().startswith("mixed"):
                            self.wfile.write(b"250-2.1.5 injected\r\n")
                        self.wfile.write(b"550 5.1.1 <" + addr.encode() + b">: end\r\n")
                        self.wfile.flush()
                    elif m == "greylist":
                        self.say("450 4.7.1 <%s>: Recipient address rejected: Greylisted, try again in 5 minutes" % addr)
                    elif (m == "accept-all" or addr.split("@")[0].lower() in users
                          or addr.split("@")[-1].lower() in accept_all):
                        self.say("250 2.1.5 Ok")
                    elif m == "multiline":
                        self.say("550-5.1.1 <%s>: no such user here" % addr)
                        self.say("550 5.1.1 see https://mx.sender.example.net/help")
                    else:
                        self.say("550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table" % addr)
                elif cmd.startswith("QUIT"):
                    self.say("221 2.0.0 Bye")
                    return
                elif cmd.startswith("RSET"):
                    self.say("250 2.0.0 Ok")
                else:
                    self.say("502 5.5.2 Error: command not recognized")

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128  # the default 5 drops SYNs when probes come in parallel

    s = Server(("127.0.0.1", a.port), Handler)
    print(s.server_address[1], flush=True)
    s.serve_forever()


if __name__ == "__main__":
    main()
