#!/usr/bin/env python3
"""hold_connections.py PORT_OR_SOCKET N READY_FILE STOP_FILE - opens N milter connections to mxguard
the way Postfix does (option negotiation, connect macros, CONNECT, HELO, MAIL FROM), each from its
own client address, and holds them open mid-transaction; writes READY_FILE when all N are held
(with how many got every reply), waits for STOP_FILE, then ends each with QUIT. For
bench/connection_memory.sh. PORT_OR_SOCKET: a TCP port on 127.0.0.1 or a unix socket path.
Must not: connect anywhere but 127.0.0.1 or the given unix socket.
"""
import os
import socket
import struct
import sys
import time


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_reply(s):
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            raise EOFError("mxguard closed the connection")
        head += chunk
    size = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < size:
        chunk = s.recv(size - len(body))
        if not chunk:
            raise EOFError("mxguard closed the connection")
        body += chunk
    return body[:1]


def open_one(target, i):
    if target.isdigit():
        s = socket.create_connection(("127.0.0.1", int(target)), timeout=30)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(target)
    ip = f"198.18.{2 + i // 250}.{1 + i % 250}".encode()
    s.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0)))
    if read_reply(s) != b"O":
        raise RuntimeError("option negotiation failed")
    # Joined, never written as one literal: b"\0" + b"198..." would be an octal escape.
    macros = [b"j", b"mx.example.net", b"{daemon_name}", b"mx", b"v", b"Postfix 3.7.11",
              b"{client_addr}", ip, b"{client_name}", b"load.client.example.net"]
    s.sendall(packet(b"D", b"C" + b"\0".join(macros) + b"\0"))
    steps = [(b"C", b"load.client.example.net\0" + b"4" + struct.pack(">H", 40000) + ip + b"\0"),
             (b"H", b"load.client.example.net\0"),
             (b"M", b"<bench@sender.example.net>\0")]
    for cmd, data in steps:
        s.sendall(packet(cmd, data))
        if read_reply(s) != b"c":
            raise RuntimeError(f"{cmd.decode()} was not answered 'continue'")
    return s


def main():
    target, n, ready, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    held, failed = [], 0
    for i in range(n):
        try:
            held.append(open_one(target, i))
        except (OSError, EOFError, RuntimeError) as e:
            failed += 1
            print(f"connection {i}: {e}", file=sys.stderr)
    with open(ready, "w") as f:
        f.write(f"held={len(held)} failed={failed}\n")
    while not os.path.exists(stop):
        time.sleep(0.1)
    for s in held:
        try:
            s.sendall(packet(b"Q"))
        except OSError:
            pass
        s.close()


if __name__ == "__main__":
    main()
