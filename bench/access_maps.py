#!/usr/bin/env python3
"""access_maps.py - the [access] map files of the benchmark's every-stage policy with maps
(bench/fixtures.sh: all_maps_policy): a cidr map of N random networks and an address map of N
random addresses, both the same bytes for the same seed (random.Random(SEED): Python's Mersenne
Twister, stable across versions), each written with mode 0644 (mxguard refuses a map that group
or others can write).

  clients.cidr  N distinct networks, half IPv4 (/16../32), half IPv6 (2000::/8, /32../128),
                host bits cleared; none holds --client (the benchmark's 198.18.0.1), so each
                message's client lookup runs the whole search and finds nothing
  recipients    N distinct keys of about 20 bytes: 90 % user@domain, 5 % @domain, 5 % user@;
                none is --recipient, its @domain or its user@ (the three forms an address
                lookup probes), so each recipient lookup misses all three probes

Values cycle through a few actions per map (each distinct value is parsed once at load; only
whole stages are skipped, so no check's build mode changes: a "skip STAGE.CHECK" would make the
loader build that check as warn and judge it per lane, a different policy). Which value a
key gets does not matter to the benchmark: no key matches.

Usage: access_maps.py DIR [--entries N] [--seed S] [--client IP] [--recipient ADDRESS]
Prints one line per file: its name, entries and bytes.
Must not: write outside DIR, or produce a key that matches --client or --recipient.
"""
import argparse
import ipaddress
import os
import random
import string

CLIENT_VALUES = ["reject", "skip rbl", "reject 554 5.7.1 listed by the admin", "skip greylist",
                 "tempfail 450 4.7.1 try later", "allow"]
RECIPIENT_VALUES = ["reject", "skip rbl", "reject 550 5.1.1 no such user", "skip greylist dmarc",
                    "tempfail", "allow"]
TLDS = ["com", "net", "org", "de", "fr", "example", "test", "co.uk", "io", "info"]
LOCAL = string.ascii_lowercase + string.digits


def networks(rng, n, client):
    seen = set()
    out = []
    while len(out) < n:
        if len(out) % 2 == 0:
            prefix = rng.randint(16, 32)
            net = ipaddress.IPv4Network((rng.getrandbits(32) >> (32 - prefix) << (32 - prefix), prefix))
        else:
            prefix = rng.randint(32, 128)
            bits = (0x20 << 120) | rng.getrandbits(120)  # 2000::/8: global unicast, never ::ffff:0:0/96
            net = ipaddress.IPv6Network((bits >> (128 - prefix) << (128 - prefix), prefix))
        if client.version == net.version and client in net:
            continue
        key = str(net)
        if key in seen:
            continue
        seen.add(key)
        out.append(key)
    return out


def word(rng, lo, hi):
    return "".join(rng.choice(LOCAL) for _ in range(rng.randint(lo, hi)))


def addresses(rng, n, recipient):
    local, _, domain = recipient.lower().rpartition("@")
    forbidden = {recipient.lower(), "@" + domain, local + "@"}
    seen = set()
    out = []
    while len(out) < n:
        d = word(rng, 5, 10) + "." + rng.choice(TLDS)
        u = word(rng, 4, 12)
        r = rng.random()
        key = "@" + d if r < 0.05 else u + "@" if r < 0.10 else u + "@" + d
        if key in forbidden or key in seen:
            continue
        seen.add(key)
        out.append(key)
    return out


def write(path, keys, values):
    with open(path, "w") as f:
        f.write("# bench/access_maps.py: %d random keys, none matching the benchmark's transaction\n"
                % len(keys))
        for i, k in enumerate(keys):
            f.write("%s %s\n" % (k, values[i % len(values)]))
    os.chmod(path, 0o644)
    print("%s %d entries %d bytes" % (path, len(keys), os.path.getsize(path)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--client", default="198.18.0.1")
    ap.add_argument("--recipient", default="user@example.org")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    client = ipaddress.ip_address(a.client)
    write(os.path.join(a.dir, "clients.cidr"), networks(rng, a.entries, client), CLIENT_VALUES)
    write(os.path.join(a.dir, "recipients"), addresses(rng, a.entries, a.recipient), RECIPIENT_VALUES)


if __name__ == "__main__":
    main()
