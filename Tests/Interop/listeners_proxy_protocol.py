"""PROXY protocol v2 in front of MQTT 3.1.1: the broker answers CONNECT after the header, and the address in the
header, not the socket's, is what its log names for the connection (seen when a second connection with the same
client identifier takes the session over). Exits 0 when both hold."""

import argparse
import socket
import struct
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--log", required=True)
args = parser.parse_args()

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(source, source_port):
    addresses = socket.inet_aton(source) + socket.inet_aton("192.0.2.1") + struct.pack("!HH", source_port, 1883)
    return SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(addresses)) + addresses


def connect_packet(client_id):
    body = b"\x00\x04MQTT\x04\x02\x00\x1e" + struct.pack("!H", len(client_id)) + client_id.encode()
    return bytes([0x10, len(body)]) + body


def connect(source, source_port, client_id):
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    sock.sendall(proxy_v2(source, source_port) + connect_packet(client_id))
    answer = sock.recv(4)
    if answer != b"\x20\x02\x00\x00":
        sys.exit(f"expected CONNACK accepted after the PROXY header, got {answer!r}")
    return sock


client_id = f"proxied-{int(time.time() * 1000) % 100000}"
first = connect("203.0.113.50", 40000, client_id)
second = connect("203.0.113.51", 40001, client_id)
deadline = time.time() + 10
while "203.0.113.50" not in open(args.log).read():
    if time.time() > deadline:
        sys.exit("the broker's log never named 203.0.113.50, the address in the PROXY header")
    time.sleep(0.05)
first.close()
second.sendall(b"\xe0\x00")
second.close()
