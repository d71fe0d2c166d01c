#!/usr/bin/env python3
"""slow_dns.py - a tiny authoritative DNS server for tests that need a slow or failing server.

Answers every query after --delay-ms (each query on its own thread, so parallel queries all come
back after one delay), from a zone file of lines "name TTL TYPE rdata" (A, AAAA, PTR, TXT, MX).
Special types: "name 0 SERVFAIL -" answers SERVFAIL, "name 0 DROP -" never answers. Names not in
the file get NXDOMAIN (NODATA when the name exists with other types). --port 0 picks a free port
and prints it as the first line on stdout. Must not: listen anywhere but 127.0.0.1.
"""
import argparse
import ipaddress
import socket
import struct
import sys
import threading
import time


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def decode_question(packet):
    pos, labels = 12, []
    while packet[pos] != 0:
        n = packet[pos]
        labels.append(packet[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n
    qtype, qclass = struct.unpack("!HH", packet[pos + 1:pos + 5])
    return ".".join(labels).lower(), qtype, pos + 5


TYPES = {"A": 1, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}


def rdata(rtype, text):
    if rtype == "A":
        return ipaddress.IPv4Address(text).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(text).packed
    if rtype == "PTR":
        return encode_name(text)
    if rtype == "MX":
        pref, host = text.split()
        return struct.pack("!H", int(pref)) + encode_name(host)
    if rtype == "TXT":
        data = text.strip('"').encode()
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        return b"".join(bytes([len(c)]) + c for c in chunks)
    raise ValueError(rtype)


def load(path):
    zone = {}
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, ttl, rtype, rest = line.rstrip("\n").split(None, 3)
            zone.setdefault(name.lower().rstrip("."), []).append((rtype, int(ttl), rest))
    return zone


def answer(zone, packet):
    name, qtype, end = decode_question(packet)
    qid, flags = struct.unpack("!HH", packet[:4])
    records = zone.get(name)
    special = {r[0] for r in (records or [])}
    if "DROP" in special:
        return None
    rcode = 0
    answers = []
    if "SERVFAIL" in special:
        rcode = 2
    elif records is None:
        rcode = 3
    else:
        for rtype, ttl, text in records:
            if TYPES.get(rtype) == qtype:
                rd = rdata(rtype, text)
                answers.append(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, ttl, len(rd)) + rd)
    header = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, len(answers), 0, 0)
    return header + packet[12:end] + b"".join(answers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--zone-file", required=True)
    args = parser.parse_args()
    zone = load(args.zone_file)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    print(sock.getsockname()[1], flush=True)

    def reply(packet, peer):
        time.sleep(args.delay_ms / 1000.0)
        try:
            out = answer(zone, packet)
        except Exception as e:  # a malformed query gets no answer, never a crash
            print("bad query:", e, file=sys.stderr, flush=True)
            return
        if out is not None:
            sock.sendto(out, peer)

    while True:
        packet, peer = sock.recvfrom(4096)
        threading.Thread(target=reply, args=(packet, peer), daemon=True).start()


if __name__ == "__main__":
    main()
