"""A persistent session keeps its subscription and queues QoS 1 messages while the client is away."""

import uuid

from interop_client import Client, check, run, unique

COUNT = 5


def body(args):
    topic = unique("paho-session")
    client_id = f"interop-session-{uuid.uuid4().hex[:12]}"
    # 3.1.1: clean session 0. 5.0: clean start 0 and a session expiry interval, without which the session ends
    # with the connection.
    persistent = dict(client_id=client_id, clean=False, session_expiry=300)

    first = Client(args, name="first connection", **persistent)
    present = first.connect()
    check(not present, "session present on the very first connection of a new client identifier")
    first.subscribe(topic, qos=1)
    first.disconnect()

    publisher = Client(args, name="publisher")
    publisher.connect()
    for number in range(1, COUNT + 1):
        publisher.publish(topic, f"queued {number}".encode(), qos=1)
    publisher.disconnect()

    second = Client(args, name="reconnection", **persistent)
    present = second.connect()
    check(present, "session present is false on reconnecting with the same client identifier")
    for number in range(1, COUNT + 1):
        message = second.next_message(f"queued message {number} of {COUNT}")
        check(message.payload == f"queued {number}".encode(),
              f"queued message {number}: got {message.payload!r}, expected b'queued {number}'")
        check(message.qos == 1, f"queued message {number} delivered at QoS {message.qos}")

    # The subscription itself survived: a message published now still arrives.
    publisher = Client(args, name="publisher")
    publisher.connect()
    publisher.publish(topic, b"live", qos=1)
    message = second.next_message("live message on the resumed subscription")
    check(message.payload == b"live", f"after the queued messages got {message.payload!r}, expected b'live'")
    publisher.disconnect()
    second.disconnect()

    # Ending the session: a clean connection finds none.
    third = Client(args, client_id=client_id, clean=True, name="clean connection")
    check(not third.connect(), "session present on a clean start")
    third.disconnect()


run(body)
