"""MQTT 5.0: a publisher may replace a topic by an alias it set earlier; subscribers see the real topic."""

from paho.mqtt.packettypes import PacketTypes

from interop_client import Client, check, prop, properties, run, unique


def alias(number):
    return properties(PacketTypes.PUBLISH, TopicAlias=number)


def body(args):
    base = unique("paho-topic-alias")
    subscriber = Client(args, name="subscriber")
    subscriber.connect()
    subscriber.subscribe(f"{base}/#", qos=1)

    publisher = Client(args, name="publisher")
    publisher.connect()
    _, _, connack = publisher.connack
    maximum = getattr(connack, "TopicAliasMaximum", 0)
    check(maximum >= 2, f"CONNACK Topic Alias Maximum is {maximum}; the check needs at least 2")

    sends = [
        (f"{base}/a", 1, b"sets alias 1"),
        ("", 1, b"uses alias 1"),
        (f"{base}/b", 2, b"sets alias 2"),
        ("", 2, b"uses alias 2"),
        (f"{base}/c", 1, b"moves alias 1"),
        ("", 1, b"uses moved alias 1"),
        ("", 2, b"uses alias 2 again"),
    ]
    expected = [f"{base}/a", f"{base}/a", f"{base}/b", f"{base}/b", f"{base}/c", f"{base}/c", f"{base}/b"]
    for (topic, number, payload), qos in zip(sends, [0, 1, 1, 1, 2, 1, 0]):
        publisher.publish(topic, payload, qos=qos, properties=alias(number))
    publisher.publish(f"{base}/end", b"end", qos=1)

    for (_, _, payload), topic in zip(sends, expected):
        message = subscriber.next_message(f"message {payload!r}")
        check((message.topic, message.payload) == (topic, payload),
              f"received {message.payload!r} on {message.topic!r}, expected {payload!r} on {topic!r}")
        # The subscriber announced no Topic Alias Maximum, so the broker may not send it aliases (MQTT-3.3.2-9).
        check(prop(message, "TopicAlias") is None, f"broker sent Topic Alias {prop(message, 'TopicAlias')} to a client that allows none")
    message = subscriber.next_message("end marker")
    check(message.payload == b"end", f"unexpected extra message {message.payload!r}")
    publisher.disconnect()
    subscriber.disconnect()


run(body, v5_only=True)
