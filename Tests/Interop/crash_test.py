"""Kills a real `starling` with SIGKILL at random moments while QoS 1 and QoS 2 publishers and persistent
subscribers (some connected, some coming and going) run, restarts it on the same database each time, and checks
that no message the broker acknowledged was lost and that no QoS 2 message was delivered twice.

    python3 crash_test.py --starling PATH [--kills 20] [--seconds 90] [--store-url postgres://…]

Then, on the same database: a retained message acknowledged just before a SIGKILL is there after the restart,
and session expiry keeps counting while the broker is down. Prints the figures, exits 0 when everything holds,
otherwise prints the reason as its last line and exits 1.
"""

import argparse
import collections
import contextlib
import os
import random
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HOST = "127.0.0.1"


class CheckFailed(Exception):
    pass


def check(condition, reason):
    if not condition:
        raise CheckFailed(reason)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Broker:
    """The `starling` process, restarted on the same data directory after each kill."""

    def __init__(self, starling, data_dir, port, log, store_url=None):
        self.starling, self.data_dir, self.port, self.log = starling, data_dir, port, log
        self.store = ["--store-url", store_url] if store_url else ["--data-dir", data_dir]
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["timeout", "-s", "KILL", "600", self.starling, "--host", HOST, "--port", str(self.port),
             *self.store, "--log-level", "warning", "--threads", "2", "--max-queued", "1000000"],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            check(self.process.poll() is None, f"starling exited with status {self.process.returncode} at start")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise CheckFailed("starling did not accept connections within 20 s of its start")

    def kill(self):
        # `timeout` passes no signal on when killed itself: kill the broker, its only child.
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()
        for child in children:
            try:
                os.kill(int(child), 9)
            except ProcessLookupError:
                pass
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.kill()


def make_client(client_id, v5, persistent=True):
    if v5:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    else:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311,
                             clean_session=not persistent)
    client.reconnect_delay_set(min_delay=0.05, max_delay=0.3)
    client.max_inflight_messages_set(100)
    return client


def connect(client, port, v5, expiry=3600, clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY):
    if v5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = expiry
        client.connect_async(HOST, port, keepalive=30, clean_start=clean_start, properties=props)
    else:
        client.connect_async(HOST, port, keepalive=30)
    client.loop_start()


def encode_packet(first_byte, body):
    length, encoded = len(body), b""
    while True:
        digit, length = length % 128, length // 128
        encoded += bytes([digit | (0x80 if length else 0)])
        if not length:
            return bytes([first_byte]) + encoded + body


def mqtt_string(data):
    return struct.pack("!H", len(data)) + data


class Publisher:
    """Publishes numbered messages over its own minimal MQTT client, at most `window` unacknowledged, and records
    those the broker acknowledged (PUBACK, or PUBREC for QoS 2). On reconnecting it resends, in order, each PUBLISH
    not yet acknowledged (DUP 1) and each PUBREL not yet completed, as MQTT-4.4.0-1 asks.

    Not paho: paho 2.x, when a `publish` call races the loss of the connection, can leave a QoS 2 message that
    already got its PUBREC marked as never sent and then publishes it again as a new message (DUP 0) after
    reconnecting, which no broker can tell from a new message.
    """

    def __init__(self, name, topic, qos, v5, port, window=60, rate=500):
        self.name, self.topic, self.qos, self.v5, self.port, self.window = name, topic, qos, v5, port, window
        self.rate = rate
        self.started = time.monotonic()
        self.client_id = f"crash-{name}-{uuid.uuid4().hex[:8]}".encode()
        self.acked = set()
        self.refused = 0
        self.unacked = collections.OrderedDict()  # packet identifier -> [payload, "publish" | "release"]
        self.lock = threading.Lock()
        self.sent = 0
        self.last_identifier = 0
        self.publishing = True
        self.alive = True
        self.sock = None
        self.inbound = b""
        self.first = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _publish_packet(self, identifier, payload, dup):
        flags = (0x08 if dup else 0) | (self.qos << 1)
        body = mqtt_string(self.topic.encode()) + struct.pack("!H", identifier) + (b"\x00" if self.v5 else b"") + payload.encode()
        return encode_packet(0x30 | flags, body)

    def _connect(self):
        sock = socket.create_connection((HOST, self.port), timeout=2)
        clean = 0x02 if (self.v5 and self.first) else 0x00
        if self.v5:
            variable = mqtt_string(b"MQTT") + bytes([5, clean]) + struct.pack("!H", 30) + bytes([5, 0x11]) + struct.pack("!I", 3600)
        else:
            variable = mqtt_string(b"MQTT") + bytes([4, clean]) + struct.pack("!H", 30)
        sock.sendall(encode_packet(0x10, variable + mqtt_string(self.client_id)))
        self.sock, self.inbound = sock, b""
        packet = None
        while packet is None:
            packet = self._read_packet(block=True)
        check(packet[0] >> 4 == 2 and packet[1][1] == 0, f"{self.name}: CONNECT refused: {packet}")
        self.first = False
        resend = b""
        with self.lock:
            for identifier, (payload, state) in self.unacked.items():
                if state == "publish":
                    resend += self._publish_packet(identifier, payload, dup=True)
                else:
                    resend += encode_packet(0x62, struct.pack("!H", identifier))
        if resend:
            sock.sendall(resend)

    def _read_packet(self, block):
        """The next (first byte, body) received, or None when none is complete yet."""
        while True:
            if len(self.inbound) >= 2:
                length, multiplier, index = 0, 1, 1
                while index < len(self.inbound):
                    byte = self.inbound[index]
                    length += (byte & 0x7F) * multiplier
                    multiplier *= 128
                    index += 1
                    if not byte & 0x80:
                        if len(self.inbound) >= index + length:
                            packet = (self.inbound[0], self.inbound[index:index + length])
                            self.inbound = self.inbound[index + length:]
                            return packet
                        break
            if not block and not select.select([self.sock], [], [], 0.005)[0]:
                return None
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the broker")
            self.inbound += data

    def _handle(self, packet):
        kind, body = packet[0] >> 4, packet[1]
        identifier = struct.unpack("!H", body[:2])[0]
        failed = len(body) > 2 and body[2] >= 0x80
        with self.lock:
            entry = self.unacked.get(identifier)
            if entry is None:
                return
            if kind == 4 or (kind == 5 and failed):  # PUBACK, or a PUBREC refusing the message
                del self.unacked[identifier]
                if failed:
                    self.refused += 1
                else:
                    self.acked.add(entry[0])
            elif kind == 5:  # PUBREC: the broker has the message
                self.acked.add(entry[0])
                entry[1] = "release"
                self.sock.sendall(encode_packet(0x62, struct.pack("!H", identifier)))
            elif kind == 7:  # PUBCOMP
                del self.unacked[identifier]

    def _next_identifier(self):
        while True:
            self.last_identifier = self.last_identifier % 65535 + 1
            if self.last_identifier not in self.unacked:
                return self.last_identifier

    def _run(self):
        while self.alive:
            try:
                if self.sock is None:
                    self._connect()
                out = b""
                with self.lock:
                    # Paced, so that the paho subscribers keep up and the final check does not wait on a backlog.
                    allowed = (time.monotonic() - self.started) * self.rate
                    while self.publishing and len(self.unacked) < self.window and self.sent < allowed:
                        self.sent += 1
                        identifier = self._next_identifier()
                        payload = f"{self.name}:{self.sent}"
                        self.unacked[identifier] = [payload, "publish"]
                        out += self._publish_packet(identifier, payload, dup=False)
                if out:
                    self.sock.sendall(out)
                packet = self._read_packet(block=False)
                while packet is not None:
                    self._handle(packet)
                    packet = self._read_packet(block=False) if self.inbound else None
            except OSError:
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                time.sleep(0.05)

    def stop_publishing(self):
        self.publishing = False

    def finish(self):
        self.alive = False
        self.thread.join()
        if self.sock is not None:
            self.sock.sendall(encode_packet(0xE0, b""))
            self.sock.close()

    def unacknowledged(self):
        with self.lock:
            return len(self.unacked)


class Subscriber:
    """A persistent subscriber; counts every payload it is given."""

    def __init__(self, name, topic, qos, v5, port, cycling=False):
        self.name, self.topic, self.qos, self.v5, self.port = name, topic, qos, v5, port
        self.client_id = f"crash-{name}-{uuid.uuid4().hex[:8]}"
        self.received = {}
        self.mids = {}
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.cycling = cycling
        self.running = True
        self.client = None
        self._open(first=True)
        if cycling:
            self.thread = threading.Thread(target=self._cycle, daemon=True)
            self.thread.start()

    def _open(self, first=False):
        # The same paho client each time: it holds the QoS 2 messages it answered with PUBREC and awaits PUBREL for.
        if first:
            self.client = make_client(self.client_id, self.v5)
            self.client.on_message = self._on_message
            self.client.on_connect = self._on_connect
        connect(self.client, self.port, self.v5,
                clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY if first else False)

    def _on_connect(self, client, _userdata, _flags, reason_code, _props):
        if not reason_code.is_failure and not self.subscribed.is_set():
            client.subscribe(self.topic, qos=self.qos)
            client.on_subscribe = lambda *_: self.subscribed.set()

    def _on_message(self, _client, _userdata, message):
        payload = message.payload.decode()
        with self.lock:
            self.received[payload] = self.received.get(payload, 0) + 1
            self.mids.setdefault(payload, []).append((message.mid, message.dup, time.monotonic()))

    def _close(self):
        self.client.disconnect()
        self.client.loop_stop()

    def _cycle(self):
        # Online for a while, then away (its session keeps collecting messages), again and again.
        while self.running:
            time.sleep(random.uniform(0.5, 1.5))
            if not self.running:
                break
            self._close()
            time.sleep(random.uniform(0.5, 2.0))
            if self.running:
                self._open()

    def stay_connected(self):
        if self.cycling:
            self.running = False
            self.thread.join()
            self._close()
            self._open()

    def snapshot(self):
        with self.lock:
            return dict(self.received)


def crash_loop(args, broker, work):
    broker.start()
    subscribers = [
        Subscriber("sub1-q1-311", "crash/q1/#", 1, False, broker.port),
        Subscriber("sub2-q2-v5", "crash/q2/#", 2, True, broker.port),
        Subscriber("sub3-q2-v5-cycling", "crash/q2/#", 2, True, broker.port, cycling=True),
        Subscriber("sub4-q1-311-cycling", "crash/q1/#", 1, False, broker.port, cycling=True),
    ]
    for subscriber in subscribers:
        check(subscriber.subscribed.wait(10), f"{subscriber.name}: no SUBACK within 10 s")
    publishers = [
        Publisher("pub-q1", "crash/q1/x", 1, True, broker.port),
        Publisher("pub-q2", "crash/q2/x", 2, True, broker.port),
        Publisher("pub-q2-311", "crash/q2/y", 2, False, broker.port),
    ]
    started = time.monotonic()
    kills = 0
    while kills < args.kills and time.monotonic() - started < args.seconds:
        time.sleep(random.uniform(0.3, 1.2))
        broker.kill()
        kills += 1
        time.sleep(random.uniform(0.0, 0.3))
        broker.start()
    check(kills >= args.kills, f"only {kills} kills in {args.seconds} s")

    for publisher in publishers:
        publisher.stop_publishing()
    for subscriber in subscribers:
        subscriber.stay_connected()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(p.unacknowledged() for p in publishers):
        time.sleep(0.1)

    def expected(subscriber):
        wanted = set()
        for publisher in publishers:
            if publisher.topic.startswith(subscriber.topic[:-1]):
                wanted |= publisher.acked
        return wanted

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(expected(s) <= set(s.snapshot()) for s in subscribers):
            break
        time.sleep(0.2)

    acked = {p.name: len(p.acked) for p in publishers}
    print(f"{kills} SIGKILLs in {time.monotonic() - started:.0f} s; acknowledged {acked}; "
          f"refused {sum(p.refused for p in publishers)}")
    for subscriber in subscribers:
        received = subscriber.snapshot()
        wanted = expected(subscriber)
        lost = sorted(wanted - set(received), key=lambda p: (p.split(":")[0], int(p.split(":")[1])))
        duplicated = sorted(p for p, n in received.items() if n > 1)
        print(f"{subscriber.name}: {len(received)} distinct received, {len(lost)} acknowledged but lost, "
              f"{len(duplicated)} duplicated")
        if duplicated and subscriber.qos == 2:
            print(f"  first duplicates (payload, [(packet id, dup, time)]): {[(p, subscriber.mids[p]) for p in duplicated[:3]]}")
        check(not lost, f"{subscriber.name} lost {len(lost)} acknowledged messages, first {lost[:5]}")
        if subscriber.qos == 2:
            check(not duplicated, f"{subscriber.name} got {len(duplicated)} QoS 2 messages twice, first {duplicated[:5]}")
    for publisher in publishers:
        publisher.finish()
    for client in [s.client for s in subscribers]:
        client.disconnect()
        client.loop_stop()


def retained_and_expiry(args, broker):
    """A retained message acknowledged just before a SIGKILL is kept; session expiry counts across the downtime."""
    topic = f"crash/retained/{uuid.uuid4().hex[:8]}"
    acked = threading.Event()
    publisher = make_client("crash-retainer", True)
    publisher.on_publish = lambda *_: acked.set()
    connect(publisher, broker.port, True, expiry=0)
    publisher.publish(topic, b"kept", qos=1, retain=True)
    check(acked.wait(10), "no PUBACK for the retained message")

    short, long = f"crash-short-{uuid.uuid4().hex[:6]}", f"crash-long-{uuid.uuid4().hex[:6]}"
    for client_id, expiry in ((short, 2), (long, 600)):
        connected = threading.Event()
        client = make_client(client_id, True)
        client.on_connect = lambda *_: connected.set()
        connect(client, broker.port, True, expiry=expiry, clean_start=True)
        check(connected.wait(10), f"{client_id}: no CONNACK")
        client.disconnect()
        client.loop_stop()
    publisher.loop_stop()
    # The session expiry is stored when the connection ends; give the broker that one commit.
    time.sleep(0.5)
    broker.kill()
    time.sleep(2.5)
    broker.start()

    got = []
    subscribed = threading.Event()
    reader = make_client("crash-reader", True)
    reader.on_message = lambda _c, _u, message: got.append((message.payload, message.retain))
    reader.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
    reader.on_subscribe = lambda *_: subscribed.set()
    connect(reader, broker.port, True, expiry=0)
    check(subscribed.wait(10), "no SUBACK for the retained topic")
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    reader.disconnect()
    reader.loop_stop()
    check(got == [(b"kept", True)], f"retained message after SIGKILL and restart: {got}")

    for client_id, present_expected in ((short, False), (long, True)):
        flags = []
        connected = threading.Event()
        client = make_client(client_id, True)
        client.on_connect = lambda _c, _u, f, *_: (flags.append(f.session_present), connected.set())
        connect(client, broker.port, True, expiry=600, clean_start=False)
        check(connected.wait(10), f"{client_id}: no CONNACK after restart")
        client.disconnect()
        client.loop_stop()
        check(flags == [present_expected],
              f"{client_id}: session present {flags} after the downtime, expected {present_expected}")
    print("retained message and session expiry across SIGKILL: as expected")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starling", required=True)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--store-url", help="a postgres:// URL of an empty database: the broker keeps its state there")
    args = parser.parse_args()
    # CRASH_KEEP=1 keeps the database and the broker's log for a look afterwards.
    keep = os.environ.get("CRASH_KEEP")
    with (contextlib.nullcontext(tempfile.mkdtemp(prefix="starling-crash-")) if keep
          else tempfile.TemporaryDirectory(prefix="starling-crash-")) as work:
        if keep:
            print("keeping", work)
        log = open(os.path.join(work, "broker.log"), "ab")
        broker = Broker(os.path.abspath(args.starling), os.path.join(work, "data"), free_port(), log, args.store_url)
        try:
            crash_loop(args, broker, work)
            retained_and_expiry(args, broker)
        except CheckFailed as failure:
            broker.stop()
            log.flush()
            with open(os.path.join(work, "broker.log"), "rb") as f:
                tail = f.read().decode(errors="replace").splitlines()[-15:]
            print("-- broker output (last lines):\n" + "\n".join(tail))
            print(failure)
            sys.exit(1)
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
