"""Prints N free TCP ports on 127.0.0.1, one per line: `python3 free_ports.py [N]`.

The ports come from below the kernel's ephemeral range, so that no client connection made meanwhile (by a test
or anything else on the machine) can take one before the broker binds it; each is bound here until all are
chosen, so none repeats.
"""

import random
import socket
import sys


def free_ports(count):
    low, _ = (int(value) for value in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    held = []
    while len(held) < count:
        candidate = socket.socket()
        try:
            candidate.bind(("127.0.0.1", random.randrange(10_000, max(10_001, low))))
        except OSError:
            candidate.close()
            continue
        held.append(candidate)
    ports = [s.getsockname()[1] for s in held]
    for s in held:
        s.close()
    return ports


if __name__ == "__main__":
    for port in free_ports(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        print(port)
