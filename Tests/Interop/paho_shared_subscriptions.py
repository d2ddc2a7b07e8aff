"""MQTT 5.0 shared subscriptions: each message goes to exactly one member of the group (4.8.2), while an
ordinary subscriber to the same topic receives every message."""

import queue
import time

from interop_client import WAIT, Client, check, run, unique


def body(args):
    base = unique("paho-shared")
    topic = f"{base}/jobs"
    members = []
    for index in range(2):
        member = Client(args, name=f"member-{index}")
        member.connect()
        member.subscribe(f"$share/workers/{topic}", qos=1)
        members.append(member)
    watcher = Client(args, name="watcher")
    watcher.connect()
    watcher.subscribe(topic, qos=1)

    publisher = Client(args, name="publisher")
    publisher.connect()
    count = 10
    for number in range(count):
        publisher.publish(topic, f"job {number}".encode(), qos=1)

    # The ordinary subscriber sees every message, in order; once it has, every member's copy has been routed too.
    for number in range(count):
        message = watcher.next_message(f"job {number} at the ordinary subscriber")
        check(message.payload == f"job {number}".encode(), f"ordinary subscriber got {message.payload!r}, expected job {number}")

    # Each job reaches exactly one member: collect until all are accounted for, with no duplicates.
    received = {}
    deadline = time.monotonic() + WAIT
    while len(received) < count:
        missing = sorted(set(f"job {n}" for n in range(count)) - set(received))
        check(time.monotonic() < deadline, f"the group's copies of {missing} not received within {WAIT:.0f} s")
        for index, member in enumerate(members):
            try:
                message = member.messages.get(timeout=0.05)
            except queue.Empty:
                continue
            job = message.payload.decode()
            check(job not in received, f"{job} delivered to member {received.get(job)} and to member {index}")
            received[job] = index
    per_member = [sum(1 for owner in received.values() if owner == index) for index in range(2)]
    check(all(n > 0 for n in per_member), f"one member got every job: {per_member}")

    for client in members + [watcher, publisher]:
        client.disconnect()


run(body, v5_only=True)
