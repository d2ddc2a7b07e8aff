"""Retained messages: kept for later subscribers with the retain flag set, replaced, and deleted by an empty one."""

from interop_client import Client, check, run, unique


def body(args):
    topic = unique("paho-retained")
    live = Client(args, name="live subscriber")
    live.connect()
    live.subscribe(topic, qos=1)

    publisher = Client(args, name="publisher")
    publisher.connect()
    publisher.publish(topic, b"first", qos=1, retain=True)
    publisher.publish(topic, b"second", qos=1, retain=True)

    # A subscription that existed when the message was published gets it as a live message.
    for payload in (b"first", b"second"):
        message = live.next_message(f"live copy of retained {payload!r}")
        check(message.payload == payload, f"live subscriber got {message.payload!r}, expected {payload!r}")
        check(not message.retain, "retain flag set on a message forwarded to an existing subscription")

    late = Client(args, name="late subscriber")
    late.connect()
    late.subscribe(topic, qos=1)
    message = late.next_message("retained message on subscribing")
    check(message.payload == b"second", f"retained message is {message.payload!r}, expected the newer b'second'")
    check(message.retain, "retained message delivered to a new subscription without the retain flag")
    check(message.qos == 1, f"retained message delivered at QoS {message.qos}, expected 1")
    late.disconnect()

    publisher.publish(topic, b"", qos=1, retain=True)
    message = live.next_message("the empty retained publish, forwarded live")
    check(message.payload == b"", f"live subscriber got {message.payload!r} for the empty retained publish")

    after = Client(args, name="subscriber after deletion")
    after.connect()
    after.subscribe(topic, qos=1)
    # Nothing is retained any more, so the first message this subscription sees is the live marker.
    publisher.publish(topic, b"marker", qos=1)
    message = after.next_message("live marker")
    check(message.payload == b"marker" and not message.retain,
          f"after deletion a new subscriber first got {message.payload!r} (retain={message.retain}), expected the live marker")
    for client in (after, live, publisher):
        client.disconnect()


run(body)
