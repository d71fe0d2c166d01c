#!/usr/bin/env python3
"""delaying_dns_proxy.py --upstream HOST:PORT [--port P] [--delay-ms MS] [--log FILE] - a DNS proxy.
Every UDP query goes to the upstream server (the test bed's nsd) at once, unchanged, and its
answer goes back to the client unchanged, MS after the query arrived (default 0: as soon as the
upstream answers). With --delay-ms it is a DNS server that is slow but right: tests/reliability's
"DNS answers after 5 s" fault (tests/testbed/slow_dns.py answers NXDOMAIN for every name it does
not hold, which a slow real server never would; libunbound caches those wrong answers). With
--log it writes one line "QNAME QTYPE" (QNAME lowered, without the final dot; QTYPE a mnemonic or
TYPEn; "? unparsable query" when the question cannot be read) per query to FILE as it arrives:
which lookups mxguard made, e.g. that an "off" check made none. One asyncio loop, a socket per
query (so query ids of different clients never collide). Prints its port as the first line.
Must not: listen anywhere but 127.0.0.1, or change a query or an answer.
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
    def __init__(self, proxy, client, deadline):
        self.proxy, self.client, self.deadline = proxy, client, deadline

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        loop = asyncio.get_running_loop()
        wait = self.deadline - loop.time()
        if wait > 0:
            loop.call_later(wait, self.proxy.reply, data, self.client)
        else:
            self.proxy.reply(data, self.client)
        self.transport.close()

    def error_received(self, exc):
        self.transport.close()


class Proxy(asyncio.DatagramProtocol):
    def __init__(self, upstream, delay, log):
        self.upstream, self.delay, self.log = upstream, delay, log

    def connection_made(self, transport):
        self.transport = transport

    def reply(self, data, client):
        if not self.transport.is_closing():
            self.transport.sendto(data, client)

    def datagram_received(self, data, addr):
        if self.log:
            q = question(data)
            self.log.write("%s %s\n" % q if q else "? unparsable query\n")
            self.log.flush()
        asyncio.ensure_future(self.forward(data, addr))

    async def forward(self, data, client):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delay
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Upstream(self, client, deadline), remote_addr=self.upstream)
        transport.sendto(data)
        # An upstream that never answers: the socket goes once the answer would be useless.
        loop.call_later(max(10, self.delay + 5), transport.close)


async def main(a):
    host, port = a.upstream.rsplit(":", 1)
    log = open(a.log, "a", encoding="ascii", errors="replace") if a.log else None
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Proxy((host, int(port)), a.delay_ms / 1000.0, log),
        local_addr=("127.0.0.1", a.port))
    print(transport.get_extra_info("sockname")[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--upstream", required=True, help="HOST:PORT of the real DNS server")
    p.add_argument("--delay-ms", type=int, default=0, help="hold each answer until MS after the "
                   "query arrived (default 0: pass it on at once)")
    p.add_argument("--log", help='append "QNAME QTYPE" per query to FILE')
    asyncio.run(main(p.parse_args()))
