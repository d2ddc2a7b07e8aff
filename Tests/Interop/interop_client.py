"""A paho-mqtt 2.x client whose every step waits for the broker's answer, for the paho_*.py checks.

A check is run as `python3 paho_X.py --port N --protocol 311|5` under `timeout`: it exits 0 when it passes,
otherwise it prints the reason as its last line and exits 1.
"""

import argparse
import queue
import sys
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HOST = "127.0.0.1"
# How long any single broker answer may take before the check fails.
WAIT = 10.0


class CheckFailed(Exception):
    pass


def check(condition, reason):
    if not condition:
        raise CheckFailed(reason)


def properties(packet_type, **values):
    """Builds paho Properties, e.g. properties(PacketTypes.PUBLISH, MessageExpiryInterval=1)."""
    props = Properties(packet_type)
    for name, value in values.items():
        setattr(props, name, value)
    return props


def prop(message, name, default=None):
    """A property of a received message, or default when the message carries none."""
    props = getattr(message, "properties", None)
    return getattr(props, name, default) if props is not None else default


def unique(prefix):
    return f"interop/{prefix}/{uuid.uuid4().hex[:12]}"


class Client:
    """One connection. Received messages queue up in `messages`; every request waits for its acknowledgement."""

    def __init__(self, args, client_id=None, clean=True, session_expiry=None, will=None, name="client"):
        self.args = args
        self.v5 = args.protocol == 5
        self.name = name
        self.client_id = client_id or f"interop-{uuid.uuid4().hex[:16]}"
        self.clean = clean
        self.session_expiry = session_expiry
        self.messages = queue.Queue()
        self.connack = None
        self._connected = threading.Event()
        self._disconnected = threading.Event()
        self._lock = threading.Condition()
        self._subacks = {}
        self._acks = {}
        self.unexpected_disconnect = None

        protocol = mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311
        kwargs = {} if self.v5 else {"clean_session": clean}
        self.paho = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=protocol, **kwargs
        )
        # A broker that drops the connection must fail the check, not be papered over by a reconnect.
        self.paho.reconnect_delay_set(min_delay=3600, max_delay=3600)
        if will is not None:
            self.paho.will_set(**will)
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = lambda _c, _u, message: self.messages.put(message)
        self.paho.on_subscribe = self._on_subscribe
        self.paho.on_publish = self._on_publish

    # Callbacks run on paho's network thread.

    def _on_connect(self, _client, _userdata, flags, reason_code, props):
        self.connack = (flags, reason_code, props)
        self._connected.set()

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props):
        with self._lock:
            if not self._disconnected.is_set() and self._connected.is_set():
                self.unexpected_disconnect = reason_code
            self._connected.clear()
            self._lock.notify_all()

    def _on_subscribe(self, _client, _userdata, mid, reason_codes, _props):
        with self._lock:
            self._subacks[mid] = reason_codes
            self._lock.notify_all()

    def _on_publish(self, _client, _userdata, mid, reason_code, _props):
        with self._lock:
            self._acks[mid] = reason_code
            self._lock.notify_all()

    # Requests.

    def connect(self, properties=None):
        """Connects and returns the CONNACK's session present flag; a refused connection fails the check."""
        kwargs = {}
        if self.v5:
            kwargs["clean_start"] = self.clean
            if self.session_expiry is not None:
                properties = properties or Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = self.session_expiry
            kwargs["properties"] = properties
        self.paho.connect(HOST, self.args.port, keepalive=30, **kwargs)
        self.paho.loop_start()
        if not self._connected.wait(WAIT):
            self.paho.loop_stop()
            raise CheckFailed(f"{self.name}: no CONNACK within {WAIT:.0f} s")
        flags, reason_code, _ = self.connack
        check(not reason_code.is_failure, f"{self.name}: connection refused: {reason_code}")
        return flags.session_present

    def subscribe(self, topic, qos, properties=None):
        """Subscribes and returns the granted QoS; a refused subscription fails the check."""
        result, mid = self.paho.subscribe(topic, qos=qos, properties=properties)
        check(result == mqtt.MQTT_ERR_SUCCESS, f"{self.name}: subscribe to {topic} not sent: {result}")
        codes = self._await(self._subacks, mid, f"SUBACK for {topic}")
        check(len(codes) == 1, f"{self.name}: SUBACK for one filter carries {len(codes)} reason codes")
        check(not codes[0].is_failure, f"{self.name}: subscription to {topic} refused: {codes[0]}")
        granted = codes[0].value
        check(granted == qos, f"{self.name}: subscribed to {topic} at QoS {qos}, granted {granted}")
        return granted

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        """Publishes and, for QoS 1 and 2, waits for the PUBACK or PUBCOMP."""
        info = self.paho.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        check(info.rc == mqtt.MQTT_ERR_SUCCESS, f"{self.name}: publish to {topic!r} not sent: {info.rc}")
        reason_code = self._await(self._acks, info.mid, f"acknowledgement of a QoS {qos} publish to {topic!r}")
        if self.v5 and qos > 0:
            check(not reason_code.is_failure, f"{self.name}: publish to {topic!r} refused: {reason_code}")

    def disconnect(self):
        self._disconnected.set()
        self.paho.disconnect()
        self.paho.loop_stop()

    def next_message(self, what, timeout=WAIT):
        self._check_connected()
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            self._check_connected()
            raise CheckFailed(f"{self.name}: {what} not received within {timeout:.0f} s") from None

    def _await(self, table, mid, what):
        with self._lock:
            answered = self._lock.wait_for(lambda: mid in table or self.unexpected_disconnect is not None, WAIT)
            self._check_connected()
            if not answered:
                raise CheckFailed(f"{self.name}: no {what} within {WAIT:.0f} s")
            return table.pop(mid)

    def _check_connected(self):
        if self.unexpected_disconnect is not None:
            raise CheckFailed(f"{self.name}: broker closed the connection ({self.unexpected_disconnect})")


def run(body, v5_only=False):
    """Parses --port and --protocol, runs body(args), and turns its outcome into the exit status."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--protocol", type=int, choices=(311, 5), required=True)
    args, _ = parser.parse_known_args()
    args.protocol = 5 if args.protocol == 5 else 311
    if v5_only and args.protocol != 5:
        parser.error("this check is for MQTT 5.0 only")
    try:
        body(args)
    except CheckFailed as failure:
        print(failure, flush=True)
        sys.exit(1)
