"""QoS 0, 1 and 2 round trips: each message arrives once, unchanged, at the QoS it was published with."""

from interop_client import Client, check, run, unique


def body(args):
    topic = unique("paho-qos")
    subscriber = Client(args, name="subscriber")
    subscriber.connect()
    subscriber.subscribe(topic, qos=2)

    publisher = Client(args, name="publisher")
    publisher.connect()
    sent = []
    for qos in (0, 1, 2):
        for payload in (f"qos {qos} text".encode(), bytes(range(256)), b""):
            publisher.publish(topic, payload, qos=qos)
            sent.append((qos, payload))

    received = [subscriber.next_message(f"message {n + 1} of {len(sent)}") for n in range(len(sent))]
    for number, message in enumerate(received):
        check(message.topic == topic, f"message {number + 1}: topic {message.topic!r}, expected {topic!r}")
        check(not message.retain, f"message {number + 1}: retain flag set on a live message")
        check(not message.dup, f"message {number + 1}: DUP set on a first delivery")
    # Order is promised per QoS level (MQTT-4.6.0-6), so each level's messages are compared in turn.
    for qos in (0, 1, 2):
        expected = [payload for level, payload in sent if level == qos]
        got = [message.payload for message in received if message.qos == qos]
        check(got == expected, f"at QoS {qos} received {[p[:24] for p in got]}, expected {[p[:24] for p in expected]}")

    # A duplicate would sit right behind the last message; a marker published now must be the next thing seen.
    publisher.publish(topic, b"end", qos=1)
    message = subscriber.next_message("end marker")
    check(message.payload == b"end", f"an extra message arrived after all {len(sent)}: {message.payload[:40]!r}")
    publisher.disconnect()
    subscriber.disconnect()


run(body)
