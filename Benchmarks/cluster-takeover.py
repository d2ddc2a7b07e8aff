#!/usr/bin/env python3
"""Session take-over time across cluster nodes: one client identifier with a persistent session connects to
node A, then to node B while still connected to A (B claims the session, A hands it over and closes the old
connection with 0x8E), then to A again, and so on. Prints percentiles of the time from CONNECT sent to CONNACK
received, for take-overs and for first connections.

    python3 Benchmarks/cluster-takeover.py HOST:PORT_A HOST:PORT_B [ROUNDS] [SUBSCRIPTIONS]

Each round takes the session over with SUBSCRIPTIONS topic filters in it (default 10). Bounded: ROUNDS (default
200) take-overs, each waiting at most 10 s.
"""

import os
import socket
import struct
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Interop"))
from crash_test import encode_packet as encode, mqtt_string as string  # noqa: E402


def read_packet(sock):
    header = sock.recv(1)
    if not header:
        raise ConnectionError("closed")
    length, multiplier = 0, 1
    while True:
        byte = sock.recv(1)[0]
        length += (byte & 0x7F) * multiplier
        multiplier *= 128
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return header[0], body


def connect(address, client_id):
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    variable = string(b"MQTT") + bytes([5, 0x00]) + struct.pack("!H", 60) + bytes([5, 0x11]) + struct.pack("!I", 3600)
    started = time.perf_counter()
    sock.sendall(encode(0x10, variable + string(client_id)))
    first, body = read_packet(sock)
    elapsed = time.perf_counter() - started
    if first >> 4 != 2 or body[1] != 0:
        raise RuntimeError(f"CONNACK refused: {body!r}")
    return sock, elapsed, bool(body[0] & 1)


def percentiles(values):
    ordered = sorted(values)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000
    return f"p50 {pick(0.5):.1f} ms, p90 {pick(0.9):.1f} ms, p99 {pick(0.99):.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def main():
    a, b = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    filters = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    client_id = f"takeover-{uuid.uuid4().hex[:8]}".encode()
    sock, first, _ = connect(a, client_id)
    subscribe = b"".join(string(f"takeover/{n}/#".encode()) + b"\x01" for n in range(filters))
    sock.sendall(encode(0x82, struct.pack("!H", 1) + b"\x00" + subscribe))
    read_packet(sock)
    times, absent = [], 0
    for round_number in range(rounds):
        target = b if round_number % 2 == 0 else a
        new, elapsed, present = connect(target, client_id)
        times.append(elapsed)
        absent += not present
        sock.close()
        sock = new
    sock.sendall(encode(0xE0, b"\x00\x01\x11" + struct.pack("!I", 0)))  # DISCONNECT, Session Expiry 0: the session goes
    sock.close()
    print(f"first connection {first * 1000:.1f} ms; {rounds} take-overs across nodes, {filters} subscriptions each: "
          f"{percentiles(times)}; session present {rounds - absent} of {rounds}")


if __name__ == "__main__":
    main()
