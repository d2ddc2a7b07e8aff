"""MQTT 5.0: a message queued for an offline session is dropped once its expiry interval has passed, and one
still alive is forwarded with the time it has left."""

import time
import uuid

from paho.mqtt.packettypes import PacketTypes

from interop_client import Client, check, prop, properties, run, unique

# The time under test, not a synchronisation: the 1 s message must have expired by the time the session resumes.
OFFLINE_SECONDS = 2.5


def body(args):
    topic = unique("paho-message-expiry")
    persistent = dict(client_id=f"interop-expiry-{uuid.uuid4().hex[:12]}", clean=False, session_expiry=300)
    first = Client(args, name="first connection", **persistent)
    first.connect()
    first.subscribe(topic, qos=1)
    first.disconnect()

    publisher = Client(args, name="publisher")
    publisher.connect()
    publisher.publish(topic, b"long-lived", qos=1, properties=properties(PacketTypes.PUBLISH, MessageExpiryInterval=60))
    publisher.publish(topic, b"expires in 1 s", qos=1, properties=properties(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    time.sleep(OFFLINE_SECONDS)
    publisher.publish(topic, b"no expiry", qos=1)
    publisher.disconnect()

    second = Client(args, name="reconnection", **persistent)
    check(second.connect(), "session present is false on reconnecting")
    received = []
    # Messages keep their order, so once the last one published is in, the expired one had its chance.
    while not received or received[-1].payload != b"no expiry":
        received.append(second.next_message(f"queued messages (so far {[m.payload for m in received]})"))
    payloads = [message.payload for message in received]
    check(payloads == [b"long-lived", b"no expiry"],
          f"after {OFFLINE_SECONDS} s offline received {payloads}, expected [b'long-lived', b'no expiry'] (the 1 s message expired)")
    remaining = prop(received[0], "MessageExpiryInterval")
    check(remaining is not None and remaining <= 60 - int(OFFLINE_SECONDS),
          f"long-lived message forwarded with Message Expiry Interval {remaining}, expected at most {60 - int(OFFLINE_SECONDS)} (MQTT-3.3.2-6)")
    check(prop(received[1], "MessageExpiryInterval") is None,
          f"message sent without expiry forwarded with Message Expiry Interval {prop(received[1], 'MessageExpiryInterval')}")
    second.disconnect()


run(body, v5_only=True)
