"""paho-mqtt over WebSocket (transport="websockets", path /mqtt), with TLS when --cafile is given: subscribes,
publishes and waits for its own message. Exits 0 when it arrives; otherwise prints why and exits 1.
With --username/--password it logs in; with --expect-refused it passes only if the broker refuses the connection
(or, with --topic outside what the ACL allows, the subscription)."""

import argparse
import queue
import sys
import uuid

import paho.mqtt.client as mqtt

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--cafile")
parser.add_argument("--username")
parser.add_argument("--password")
parser.add_argument("--topic")
parser.add_argument("--expect-refused", action="store_true")
args = parser.parse_args()

protocol = mqtt.MQTTv5 if args.cafile else mqtt.MQTTv311
events = queue.Queue()
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"paho-ws-{uuid.uuid4().hex[:8]}",
                     transport="websockets", protocol=protocol)
client.ws_set_options(path="/mqtt")
if args.cafile:
    client.tls_set(ca_certs=args.cafile)
if args.username:
    client.username_pw_set(args.username, args.password)
client.on_connect = lambda c, u, flags, reason, props: events.put(("connect", reason))
client.on_subscribe = lambda c, u, mid, reasons, props: events.put(("subscribe", reasons))
client.on_message = lambda c, u, message: events.put(("message", message))


def expect(kind):
    try:
        event = events.get(timeout=10)
    except queue.Empty:
        sys.exit(f"no {kind} within 10 s")
    if event[0] != kind:
        sys.exit(f"expected {kind}, got {event}")
    return event[1]


topic = args.topic or f"interop/listeners-ws/{uuid.uuid4().hex[:12]}"
client.connect("127.0.0.1", args.port, keepalive=30)
client.loop_start()
try:
    reason = expect("connect")
    if reason.is_failure:
        if args.expect_refused:
            sys.exit(0)
        sys.exit(f"connection refused: {reason}")
    client.subscribe(topic, qos=1)
    reasons = expect("subscribe")
    if any(r.is_failure for r in reasons):
        if args.expect_refused:
            sys.exit(0)
        sys.exit(f"subscription refused: {reasons}")
    if args.expect_refused:
        sys.exit("the broker let in what it should have refused")
    client.publish(topic, b"over WebSocket", qos=1)
    message = expect("message")
    if message.payload != b"over WebSocket":
        sys.exit(f"unexpected payload {message.payload!r}")
finally:
    client.disconnect()
    client.loop_stop()
