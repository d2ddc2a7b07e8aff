#!/usr/bin/env python3
"""A legitimate login's latency while a flood of bad logins hits the broker.

Starts `starling serve` on 127.0.0.1 with a password file (PBKDF2-SHA512, the default iterations unless
--iterations) and a PROXY protocol listener, so that every connection comes from 127.0.0.1 while the broker
sees the address its PROXY header names: the flood comes from --flood-addresses addresses of 192.0.2.0/24, the
legitimate client from 198.51.100.1. Then, for --duration seconds, --flood connections at once each send
CONNECT with a wrong password, wait for the CONNACK and start again, while the legitimate client logs in once
a second; a refusal for load (0x9F) is retried after 100 ms, as a client with back-off would, and counts in
its latency. Prints the legitimate logins' latencies and the flood's CONNACK codes.

Usage:
    swift build -c release --product starling
    python3 Scripts/login-flood.py [--starling .build/release/starling] [--flood 300] [--duration 20]
        [--flood-addresses 1] [--iterations 210000] [-- extra serve flags, e.g. --max-logins-in-progress 0]

Everything is bounded: at most --flood (<= 2000) connections at once, for --duration (<= 300) seconds, all
to 127.0.0.1. Stdlib only.
"""

import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
LEGITIMATE_ADDRESS = "198.51.100.1"


def string(text):
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def varint(n):
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id, user, password):
    # MQTT 5.0 CONNECT, clean start, user name and password, no properties.
    variable = string("MQTT") + bytes([5, 0xC2]) + struct.pack(">H", 30) + varint(0)
    payload = string(client_id) + string(user) + string(password)
    body = variable + payload
    return bytes([0x10]) + varint(len(body)) + body


def proxy_header(address, port):
    return f"PROXY TCP4 {address} {HOST} {40000 + port % 20000} 1883\r\n".encode()


def read_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def login(port, address, client_id, user, password, timeout):
    """The CONNACK reason code, or None when the connection failed or timed out."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(proxy_header(address, sock.getsockname()[1]) + connect_packet(client_id, user, password))
            header = read_exactly(sock, 2)
            if header[0] != 0x20:
                return None
            rest = read_exactly(sock, header[1])
            return rest[1]
    except (OSError, ConnectionError):
        return None


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, deadline):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"starling exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("starling did not start listening")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starling", default=".build/release/starling")
    parser.add_argument("--flood", type=int, default=300)
    parser.add_argument("--flood-addresses", type=int, default=1)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--iterations", type=int, default=210_000)
    parser.add_argument("extra", nargs="*", help="more `starling serve` flags (after --)")
    options = parser.parse_args()
    flood = max(1, min(options.flood, 2000))
    duration = max(1.0, min(options.duration, 300.0))
    addresses = [f"192.0.2.{1 + index % 250}" for index in range(max(1, min(options.flood_addresses, 250)))]

    directory = tempfile.mkdtemp(prefix="starling-login-flood-")
    process = None
    try:
        passwords = os.path.join(directory, "passwords")
        for index, (user, password) in enumerate([("alice", "right"), ("bob", "also-right")]):
            flags = ["-c"] if index == 0 else []
            subprocess.run([options.starling, "passwd", *flags, "-b", "-I", str(options.iterations), passwords, user, password],
                           check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        config = os.path.join(directory, "starling.yaml")
        with open(config, "w") as file:
            file.write(f"listeners:\n  edge:\n    host: {HOST}\n    port: {port}\n    proxy_protocol: true\n")
        process = subprocess.Popen(
            [options.starling, "serve", "--config", config, "--memory", "--password-file", passwords,
             "--log-level", "error", *options.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, process, time.monotonic() + 30)

        stop = time.monotonic() + duration
        codes = {}
        lock = threading.Lock()

        def flooder(number):
            attempt = 0
            while time.monotonic() < stop:
                attempt += 1
                address = addresses[number % len(addresses)]
                code = login(port, address, f"flood-{number}-{attempt}", "bob", "wrong", timeout=30)
                with lock:
                    codes[code] = codes.get(code, 0) + 1
                if code == 0x9F:
                    time.sleep(0.05)

        threads = [threading.Thread(target=flooder, args=(number,), daemon=True) for number in range(flood)]
        for thread in threads:
            thread.start()
        time.sleep(min(2.0, duration / 4))

        latencies = []
        refusals = 0
        failures = 0
        number = 0
        while time.monotonic() + 1 < stop:
            number += 1
            started = time.monotonic()
            while True:
                code = login(port, LEGITIMATE_ADDRESS, f"legitimate-{number}", "alice", "right", timeout=30)
                if code == 0x9F and time.monotonic() - started < 30:
                    refusals += 1
                    time.sleep(0.1)
                    continue
                break
            if code == 0:
                latencies.append(time.monotonic() - started)
            else:
                failures += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        for thread in threads:
            thread.join(timeout=35)

        names = {0x86: "0x86 bad password", 0x9F: "0x9F refused for load", 0x87: "0x87 not authorized", None: "no answer"}
        print(f"flood: {flood} connections at once from {len(addresses)} address(es) for {duration:.0f} s; "
              f"hash: PBKDF2-SHA512, {options.iterations} iterations; serve flags: {' '.join(options.extra) or '(defaults)'}")
        for code, count in sorted(codes.items(), key=lambda item: -item[1]):
            print(f"  flood CONNACK {names.get(code, hex(code) if code is not None else 'none')}: {count}")
        if latencies:
            print(f"legitimate logins: {len(latencies)} in, {failures} failed, {refusals} retries after 0x9F; latency "
                  f"median {percentile(latencies, 0.5) * 1000:.0f} ms, p90 {percentile(latencies, 0.9) * 1000:.0f} ms, "
                  f"max {max(latencies) * 1000:.0f} ms")
        else:
            print(f"legitimate logins: none got in ({failures} failed, {refusals} retries after 0x9F)")
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
