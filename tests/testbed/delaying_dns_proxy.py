#!/usr/bin/env python3
"""delaying_dns_proxy.py --port P --upstream HOST:PORT --delay-ms MS - a DNS server that is slow
but right: every UDP query goes to the upstream server (the test bed's nsd) at once, and its
answer goes back to the client MS after the query arrived. tests/reliability's "DNS answers after
5 s" fault: tests/testbed/slow_dns.py answers NXDOMAIN for every name it does not hold, which a
slow real server never would (libunbound caches those wrong answers). One asyncio loop, a socket
per query (so query ids of different clients never collide). Prints the port as the first line.
Must not: listen anywhere but 127.0.0.1.
"""
import argparse
import asyncio


class Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy, client, deadline):
        self.proxy, self.client, self.deadline = proxy, client, deadline

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        loop = asyncio.get_running_loop()
        wait = max(0.0, self.deadline - loop.time())
        loop.call_later(wait, self.proxy.reply, data, self.client)
        self.transport.close()

    def error_received(self, exc):
        self.transport.close()


class Proxy(asyncio.DatagramProtocol):
    def __init__(self, upstream, delay):
        self.upstream, self.delay = upstream, delay

    def connection_made(self, transport):
        self.transport = transport

    def reply(self, data, client):
        if not self.transport.is_closing():
            self.transport.sendto(data, client)

    def datagram_received(self, data, addr):
        asyncio.ensure_future(self.forward(data, addr))

    async def forward(self, data, client):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delay
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Upstream(self, client, deadline), remote_addr=self.upstream)
        transport.sendto(data)
        # An upstream that never answers: the socket goes once the answer would be useless.
        loop.call_later(self.delay + 5, transport.close)


async def main(a):
    host, port = a.upstream.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Proxy((host, int(port)), a.delay_ms / 1000.0), local_addr=("127.0.0.1", a.port))
    print(transport.get_extra_info("sockname")[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--upstream", required=True, help="HOST:PORT of the real DNS server")
    p.add_argument("--delay-ms", type=int, required=True)
    asyncio.run(main(p.parse_args()))
