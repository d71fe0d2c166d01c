#!/usr/bin/env python3
"""query_log_dns_proxy.py --upstream HOST:PORT --log FILE - a DNS server that passes every UDP
query on to the upstream server (the test bed's nsd) unchanged and its answer back, and writes one
line "QNAME QTYPE" (QNAME lowered, without the final dot; QTYPE a mnemonic or TYPEn) per query to
FILE as it arrives: which lookups mxguard made, e.g. that an "off" check made none. One asyncio
loop, a socket per query (so query ids of different clients never collide). Prints its port as
the first line. Must not: listen anywhere but 127.0.0.1, or change a query or an answer.
"""
import argparse
import asyncio

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
         33: "SRV", 43: "DS", 48: "DNSKEY", 99: "SPF", 255: "ANY"}


def question(data):
    """(qname, qtype) of a query's first question, or None when it cannot be parsed."""
    try:
        labels, i = [], 12
        while data[i]:
            if data[i] & 0xC0:  # no compression in a question section we send ourselves
                return None
            labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
            i += 1 + data[i]
        qtype = int.from_bytes(data[i + 1:i + 3], "big")
        return ".".join(labels).lower(), TYPES.get(qtype, "TYPE%d" % qtype)
    except IndexError:
        return None


class Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy, client):
        self.proxy, self.client = proxy, client

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.proxy.reply(data, self.client)
        self.transport.close()

    def error_received(self, exc):
        self.transport.close()


class Proxy(asyncio.DatagramProtocol):
    def __init__(self, upstream, log):
        self.upstream, self.log = upstream, log

    def connection_made(self, transport):
        self.transport = transport

    def reply(self, data, client):
        if not self.transport.is_closing():
            self.transport.sendto(data, client)

    def datagram_received(self, data, addr):
        q = question(data)
        self.log.write("%s %s\n" % q if q else "? unparsable query\n")
        self.log.flush()
        asyncio.ensure_future(self.forward(data, addr))

    async def forward(self, data, client):
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Upstream(self, client), remote_addr=self.upstream)
        transport.sendto(data)
        loop.call_later(10, transport.close)  # an upstream that never answers


async def main(a):
    host, port = a.upstream.rsplit(":", 1)
    log = open(a.log, "a", encoding="ascii", errors="replace")
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Proxy((host, int(port)), log), local_addr=("127.0.0.1", a.port))
    print(transport.get_extra_info("sockname")[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--upstream", required=True)
    p.add_argument("--log", required=True)
    asyncio.run(main(p.parse_args()))
