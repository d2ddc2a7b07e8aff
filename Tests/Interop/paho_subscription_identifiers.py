"""MQTT 5.0: messages carry the identifiers of the subscriptions they matched, and none for a subscription without."""

from paho.mqtt.packettypes import PacketTypes

from interop_client import Client, check, prop, properties, run, unique


def identifiers(message):
    value = prop(message, "SubscriptionIdentifier", [])
    return sorted(value) if isinstance(value, list) else [value]


def body(args):
    base = unique("paho-subscription-identifiers")
    subscriber = Client(args, name="subscriber")
    subscriber.connect()
    subscriber.subscribe(f"{base}/+", qos=1, properties=properties(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7))
    subscriber.subscribe(f"{base}/#", qos=1, properties=properties(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=268_435_455))
    subscriber.subscribe(f"{base}/plain/only", qos=1)

    publisher = Client(args, name="publisher")
    publisher.connect()

    publisher.publish(f"{base}/deep/level", b"one match", qos=1)
    message = subscriber.next_message("message matching one identified subscription")
    check(identifiers(message) == [268_435_455], f"subscription identifiers {identifiers(message)}, expected [268435455]")

    # Two overlapping subscriptions: one copy naming both identifiers, or one copy for each (MQTT-3.3.4-3..5).
    publisher.publish(f"{base}/both", b"two matches", qos=1)
    seen = []
    while sorted(sum(seen, [])) != [7, 268_435_455]:
        message = subscriber.next_message(f"copies naming identifiers 7 and 268435455 (so far {seen})")
        check(message.payload == b"two matches", f"unexpected message {message.payload!r} while collecting identifiers {seen}")
        seen.append(identifiers(message))
        check(len(seen) <= 2 and all(len(ids) for ids in seen),
              f"overlapping subscriptions gave copies with identifiers {seen}, expected [7, 268435455] or [7] and [268435455]")

    # `plain/only` also matches `#` (identifier 268435455): whichever copies arrive, the plain one has no identifier.
    publisher.publish(f"{base}/plain/only", b"plain", qos=1)
    publisher.publish(f"{base}/end/marker", b"end", qos=1)
    copies = []
    while True:
        message = subscriber.next_message("copies of the message to the subscription without an identifier")
        if message.payload == b"end":
            break
        copies.append(identifiers(message))
    check(copies in ([[268_435_455]], [[], [268_435_455]], [[268_435_455], []]),
          f"a message matching an identified and an unidentified subscription arrived with identifiers {copies}")
    publisher.disconnect()
    subscriber.disconnect()


run(body, v5_only=True)
