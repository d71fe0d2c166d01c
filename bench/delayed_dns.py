#!/usr/bin/env python3
"""delayed_dns.py --delay-ms MS [--port 0] - a DNS server for bench/rbl_fanout.sh that answers
every query NXDOMAIN (no records, no SOA: nothing may be cached) exactly MS after it arrived.
One asyncio loop and a timer per query, no thread per query: tests/testbed/slow_dns.py's thread
per query takes ~120 ms to answer 20 queries sent at once on a busy 2-core machine, which would
measure the test server instead of mxguard's fan-out. Prints the port as the first line.
Must not: listen anywhere but 127.0.0.1.
"""
import argparse
import asyncio
import struct


class Delayed(asyncio.DatagramProtocol):
    def __init__(self, delay):
        self.delay = delay

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        if len(data) < 12:
            return
        ident, flags = struct.unpack(">HH", data[:4])
        # Header: same id, QR=1, the query's opcode and RD, RA=1, rcode 3; the question echoed.
        reply = struct.pack(">HHHHHH", ident, 0x8000 | (flags & 0x7900) | 0x0080 | 3, 1, 0, 0, 0)
        end = 12
        while end < len(data) and data[end] != 0:
            end += data[end] + 1
        reply += data[12:end + 5]
        asyncio.get_running_loop().call_later(self.delay, self.transport.sendto, reply, addr)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=int, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Delayed(args.delay_ms / 1000), local_addr=("127.0.0.1", args.port))
    print(transport.get_extra_info("sockname")[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
