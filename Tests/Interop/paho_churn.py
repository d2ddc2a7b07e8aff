"""No acknowledged message is lost while subscribers keep losing their connections.

Publishers send numbered QoS 1 and QoS 2 messages while the sockets of persistent subscribers (3.1.1 clean
session 0, 5.0 with a session expiry) are cut at random moments, without DISCONNECT; paho reconnects each one and
resumes its session. Afterwards every message a publisher saw acknowledged must have reached every subscriber:
at least once at QoS 1, exactly once where both publisher and subscription are QoS 2.

The randomness is seeded (`--seed`), so a failing run can be repeated.
"""

import argparse
import random
import socket
import sys
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HOST = "127.0.0.1"
PER_PUBLISHER = 1000
SETTLE_SECONDS = 30


class Subscriber:
    def __init__(self, port, protocol, qos, topic, name):
        self.name = name
        self.qos = qos
        self.topic = topic
        self.protocol = protocol
        self.lock = threading.Lock()
        self.received = {}  # (publisher, sequence) -> times
        self.connects = 0
        self.subscribed = threading.Event()
        version = mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311
        client_id = f"churn-{name}-{uuid.uuid4().hex[:8]}"
        if protocol == 5:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version)
        else:
            self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version,
                                      clean_session=False)
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.port = port

    def start(self):
        if self.protocol == 5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 300
            self.client.connect(HOST, self.port, keepalive=30, clean_start=False, properties=props)
        else:
            self.client.connect(HOST, self.port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client, _userdata, flags, reason_code, _props):
        with self.lock:
            self.connects += 1
            first = self.connects == 1
        if first:
            client.subscribe(self.topic, qos=self.qos)

    def _on_message(self, _client, _userdata, message):
        publisher, sequence = message.payload.decode().split(":")
        key = (publisher, int(sequence))
        with self.lock:
            self.received[key] = self.received.get(key, 0) + 1

    def cut(self):
        """Closes the socket under paho's feet, as a network failure would."""
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    def __init__(self, port, protocol, qos, topic, name):
        self.name = name
        self.qos = qos
        self.topic = topic
        version = mqtt.MQTTv5 if protocol == 5 else mqtt.MQTTv311
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"churn-{name}-{uuid.uuid4().hex[:8]}",
                                  protocol=version)
        self.lock = threading.Lock()
        self.sequences = {}  # mid -> sequence
        # Filled by paho's network thread; never locked while paho's own lock is held by a publish() call.
        self.acknowledged_mids = set()
        self.refused_mids = set()
        self.client.on_publish = self._on_publish
        self.client.max_inflight_messages_set(20)
        self.client.connect(HOST, port, keepalive=30)
        self.client.loop_start()

    def _on_publish(self, _client, _userdata, mid, reason_code, _props):
        with self.lock:
            (self.refused_mids if reason_code.is_failure else self.acknowledged_mids).add(mid)

    @property
    def acknowledged(self):
        with self.lock:
            return {self.sequences[mid] for mid in self.acknowledged_mids if mid in self.sequences}

    def run(self):
        for sequence in range(PER_PUBLISHER):
            info = self.client.publish(self.topic, f"{self.name}:{sequence}".encode(), qos=self.qos)
            with self.lock:
                self.sequences[info.mid] = sequence
            if sequence % 10 == 0:
                time.sleep(0.02)
        deadline = time.time() + SETTLE_SECONDS
        while time.time() < deadline:
            with self.lock:
                if len(self.acknowledged_mids) + len(self.refused_mids) >= PER_PUBLISHER:
                    return
            time.sleep(0.05)

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def fail(reason):
    print(reason, flush=True)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--protocol", type=int, choices=(311, 5), required=True)
    parser.add_argument("--seed", type=int, default=None)
    args, _ = parser.parse_known_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    chance = random.Random(seed)
    prefix = f"churn/{uuid.uuid4().hex[:8]}"

    subscribers = [
        Subscriber(args.port, args.protocol, 2, f"{prefix}/#", "exactly-once"),
        Subscriber(args.port, args.protocol, 1, f"{prefix}/+", "at-least-once"),
    ]
    for subscriber in subscribers:
        subscriber.start()
    for subscriber in subscribers:
        if not subscriber.subscribed.wait(10):
            fail(f"seed {seed}: {subscriber.name} got no SUBACK")

    publishers = [
        Publisher(args.port, args.protocol, 1, f"{prefix}/one", "p1"),
        Publisher(args.port, args.protocol, 2, f"{prefix}/two", "p2"),
    ]
    stop = threading.Event()

    def chaos():
        while not stop.is_set():
            time.sleep(chance.uniform(0.02, 0.15))
            chance.choice(subscribers).cut()

    cutter = threading.Thread(target=chaos, daemon=True)
    cutter.start()
    threads = [threading.Thread(target=publisher.run) for publisher in publishers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    cutter.join()

    for publisher in publishers:
        if len(publisher.acknowledged) != PER_PUBLISHER:
            fail(f"seed {seed}: {publisher.name} saw {len(publisher.acknowledged)} of {PER_PUBLISHER} acknowledged")

    acknowledged = {publisher.name: publisher.acknowledged for publisher in publishers}

    def missing(subscriber):
        with subscriber.lock:
            return [(name, s) for name, sequences in acknowledged.items() for s in sequences
                    if (name, s) not in subscriber.received]

    deadline = time.time() + SETTLE_SECONDS
    while time.time() < deadline and any(missing(s) for s in subscribers):
        time.sleep(0.1)
    for subscriber in subscribers:
        lost = missing(subscriber)
        if lost:
            fail(f"seed {seed}: {subscriber.name} never received {len(lost)} acknowledged messages, e.g. {lost[:5]} "
                 f"(after {subscriber.connects} connections)")
    exactly = subscribers[0]
    with exactly.lock:
        twice = [key for key, times in exactly.received.items() if key[0] == "p2" and times > 1]
    if twice:
        fail(f"seed {seed}: QoS 2 messages delivered more than once: {twice[:5]}")
    cuts = sum(s.connects - 1 for s in subscribers)
    for client in publishers + subscribers:
        client.stop()
    if cuts < 3:
        fail(f"seed {seed}: only {cuts} reconnections happened; the check did not test what it should")
    print(f"seed {seed}: {2 * PER_PUBLISHER} messages, {cuts} reconnections, none lost, none doubled at QoS 2")


if __name__ == "__main__":
    main()
