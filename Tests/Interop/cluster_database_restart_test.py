#!/usr/bin/env python3
"""Two cluster nodes on a PostgreSQL server of this test's own, stopped for a few seconds and started again
while a publisher on node 1 sends QoS 1 messages to a persistent subscriber on node 2.

While the database is away: local traffic goes on (a QoS 0 message from a clean-session client on node 1 reaches
another there), a CONNECT that would resume a persistent session is refused with 0x88 Server unavailable, and
QoS 1 messages that cannot be made durable are refused (PUBACK 0x97) rather than acknowledged. Afterwards the
nodes are still running and every message acknowledged before, during or after reaches the subscriber.

    python3 cluster_database_restart_test.py --starling PATH
"""

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid

import cluster_test
from cluster_test import Node, fail_with_log, tally, wait_for
from crash_test import CheckFailed, Publisher, Subscriber, check, encode_packet, mqtt_string

HOST = "127.0.0.1"
SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Scripts", "postgres-server.sh")
OUTAGE_SECONDS = 4


def database_server(command, *arguments):
    result = subprocess.run(["bash", SERVER_SCRIPT, command, *arguments], capture_output=True, text=True, timeout=120)
    check(result.returncode == 0, f"postgres-server.sh {command}: {result.stderr.strip()}")
    return result.stdout


def connack_reason_of_persistent_connect(port):
    """The CONNACK reason code a 5.0 CONNECT resuming a session (Clean Start 0, expiry 3600) gets."""
    variable = mqtt_string(b"MQTT") + bytes([5, 0x00]) + struct.pack("!H", 30) + bytes([5, 0x11]) + struct.pack("!I", 3600)
    client_id = f"resume-{uuid.uuid4().hex[:8]}".encode()
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.settimeout(15)
        sock.sendall(encode_packet(0x10, variable + mqtt_string(client_id)))
        data = b""
        while len(data) < 4:
            chunk = sock.recv(64)
            check(chunk, "the connection closed without CONNACK")
            data += chunk
    check(data[0] == 0x20, f"expected CONNACK, got first byte {data[0]:#x}")
    return data[3]


def local_traffic_flows(port):
    """A QoS 0 message between two clean-session clients of one node."""
    topic = f"local/{uuid.uuid4().hex[:8]}"
    sub = subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", str(port), "-t", topic, "-C", "1", "-W", "10"],
                           stdout=subprocess.PIPE, text=True)
    try:
        # Published until the subscriber, once its subscription is in, takes one and exits.
        deadline = time.monotonic() + 10
        while sub.poll() is None and time.monotonic() < deadline:
            subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(port), "-t", topic, "-m", "local"], timeout=10)
            time.sleep(0.1)
        output, _ = sub.communicate(timeout=15)
    finally:
        if sub.poll() is None:
            sub.kill()
    return output.strip() == "local"


def restart_under_load(nodes, server_dir):
    topic = f"restart/{uuid.uuid4().hex[:8]}"
    subscriber = Subscriber("sub", topic, 1, v5=True, port=nodes[1].port)
    check(subscriber.subscribed.wait(10), "the subscriber did not subscribe on node 2")
    # The route reaches node 1 within a heartbeat: probes from node 1 until one arrives.
    deadline = time.monotonic() + 20
    while "probe" not in subscriber.snapshot() and time.monotonic() < deadline:
        subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(nodes[0].port), "-t", topic, "-m", "probe", "-q", "1"],
                       timeout=10)
        time.sleep(0.2)
    check("probe" in subscriber.snapshot(), "node 2's subscriber gets nothing from node 1")

    publisher = Publisher("p", topic, 1, True, nodes[0].port, rate=300)
    time.sleep(2)
    before = len(publisher.acked)
    database_server("pause", server_dir)
    paused_at = time.monotonic()
    print(f"PostgreSQL stopped after {before} acknowledged messages")
    try:
        check(local_traffic_flows(nodes[0].port), "a QoS 0 message between clean-session clients of node 1 did not arrive")
        reason = connack_reason_of_persistent_connect(nodes[0].port)
        check(reason == 0x88, f"a CONNECT resuming a session got CONNACK reason {reason:#x}, not 0x88")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - paused_at)))
    finally:
        database_server("resume", server_dir)
    during = len(publisher.acked) - before
    print(f"PostgreSQL started again after {time.monotonic() - paused_at:.1f} s; {during} acknowledged meanwhile, "
          f"{publisher.refused} refused so far")
    resumed_at, at_resume = time.monotonic(), len(publisher.acked)
    wait_for("acknowledgements again once PostgreSQL is back", lambda: len(publisher.acked) >= at_resume + 300, seconds=40)
    print(f"300 more acknowledged {time.monotonic() - resumed_at:.1f} s after PostgreSQL was back")
    publisher.stop_publishing()
    publisher.finish()

    def complete():
        return set(publisher.acked) <= set(subscriber.snapshot())

    wait_for("every acknowledged message at the subscriber", complete, seconds=60)
    got, lost, duplicated = tally(publisher, subscriber)
    print(f"{len(publisher.acked)} acknowledged, {publisher.refused} refused, {len(got)} distinct received, "
          f"{len(lost)} acknowledged but lost, {duplicated} duplicated")
    check(not lost, f"{len(lost)} acknowledged messages lost, such as {sorted(lost)[:3]}")
    for node in nodes:
        check(node.process.poll() is None, f"node {node.name} exited (status {node.process.returncode})")
    subscriber.client.disconnect()
    subscriber.client.loop_stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starling", required=True)
    args = parser.parse_args()
    # Stopped by a time limit, it still stops the nodes and the server it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Longer than the outage: the nodes must not take each other as gone.
    cluster_test.NODE_TIMEOUT = 15
    server = dict(line.removeprefix("export ").split("=", 1) for line in database_server("start").splitlines())
    url, server_dir = server["STARLING_TEST_POSTGRES_URL"], server["STARLING_TEST_POSTGRES_DIR"]
    with tempfile.TemporaryDirectory(prefix="starling-cluster-restart-") as work:
        log = open(os.path.join(work, "nodes.log"), "ab")
        nodes = [Node(os.path.abspath(args.starling), f"n{index}", url, log) for index in (1, 2)]
        try:
            for node in nodes:
                node.start()
            restart_under_load(nodes, server_dir)
        except (CheckFailed, subprocess.SubprocessError, OSError) as failure:
            fail_with_log(failure, log, work, lines=40)
        finally:
            for node in nodes:
                node.stop()
            subprocess.run(["bash", SERVER_SCRIPT, "stop", server_dir], capture_output=True, timeout=120)


if __name__ == "__main__":
    main()
