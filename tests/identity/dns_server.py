"""An authoritative DNS server for the domain-verification tests, built on dnslib.

It answers TXT queries from the JSON files (`{"name.": ["value", ...]}`) of a directory, read
on every query: one test run starts it once, and each test publishes its records by
rewriting a file of its own. A value that is an IP address is also the name's A or AAAA
record (the outbound-address tests resolve names through it). Prints the UDP port it listens
on.
"""

import ipaddress

import json
import pathlib
import sys

from dnslib import A, AAAA, QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class FileResolver(BaseResolver):
    def __init__(self, directory):
        self.directory = pathlib.Path(directory)

    def values(self, name):
        values = []
        for zone in sorted(self.directory.glob("*.json")):
            try:
                values += json.loads(zone.read_text(encoding="utf-8")).get(name, [])
            except FileNotFoundError:  # removed by its test meanwhile
                pass
        return values

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        values = self.values(name)
        if request.q.qtype == QTYPE.TXT:
            for value in values:
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(value), ttl=0))
        for value in values:
            try:
                ip = ipaddress.ip_address(value)
            except ValueError:
                continue
            kind = (QTYPE.A, A) if ip.version == 4 else (QTYPE.AAAA, AAAA)
            if request.q.qtype == kind[0]:
                reply.add_answer(RR(name, kind[0], rdata=kind[1](value), ttl=0))
        if not values:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def main():
    server = DNSServer(
        FileResolver(sys.argv[1]),
        port=0,
        address="127.0.0.1",
        logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"),
    )
    # Bound on construction: the port is known before serving starts, and queries wait in
    # the socket's buffer meanwhile.
    print(server.server.server_address[1], flush=True)
    server.start()


if __name__ == "__main__":
    main()
