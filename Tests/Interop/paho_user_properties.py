"""MQTT 5.0: user properties and the other application properties of a PUBLISH reach the subscriber unchanged."""

from paho.mqtt.packettypes import PacketTypes

from interop_client import Client, check, prop, properties, run, unique

# Order and repeated names are part of what must be kept (MQTT-3.3.2-18).
USER_PROPERTIES = [("colour", "blue"), ("size", "10"), ("colour", "green"), ("ünïcödé", "✓")]


def body(args):
    topic = unique("paho-user-properties")
    subscriber = Client(args, name="subscriber")
    subscriber.connect()
    subscriber.subscribe(topic, qos=1)

    publisher = Client(args, name="publisher")
    publisher.connect()
    publisher.publish(topic, b"with properties", qos=1, properties=properties(
        PacketTypes.PUBLISH,
        UserProperty=USER_PROPERTIES,
        ContentType="text/plain",
        ResponseTopic=f"{topic}/reply",
        CorrelationData=b"\x00\x01correlation",
        PayloadFormatIndicator=1,
    ))
    message = subscriber.next_message("message with user properties")
    check(message.payload == b"with properties", f"payload {message.payload!r}")
    got = prop(message, "UserProperty", [])
    check(got == USER_PROPERTIES, f"user properties {got}, expected {USER_PROPERTIES}")
    check(prop(message, "ContentType") == "text/plain", f"content type {prop(message, 'ContentType')!r}")
    check(prop(message, "ResponseTopic") == f"{topic}/reply", f"response topic {prop(message, 'ResponseTopic')!r}")
    check(prop(message, "CorrelationData") == b"\x00\x01correlation", f"correlation data {prop(message, 'CorrelationData')!r}")
    check(prop(message, "PayloadFormatIndicator") == 1, f"payload format indicator {prop(message, 'PayloadFormatIndicator')!r}")

    # And a message without them carries none.
    publisher.publish(topic, b"plain", qos=1)
    message = subscriber.next_message("message without user properties")
    check(prop(message, "UserProperty") is None, f"user properties {prop(message, 'UserProperty')} on a message sent without any")
    publisher.disconnect()
    subscriber.disconnect()


run(body, v5_only=True)
