"""Wills: published when the client's process is killed, not when it disconnects normally."""

import os
import signal
import subprocess
import sys
import time

from paho.mqtt.packettypes import PacketTypes

from interop_client import Client, check, properties, prop, run, unique

WILL_USER_PROPERTIES = [("reason", "killed"), ("reason", "again")]


def will_for(args, topic, payload):
    will = {"topic": topic, "payload": payload, "qos": 1, "retain": False}
    if args.protocol == 5:
        will["properties"] = properties(PacketTypes.WILLMESSAGE, UserProperty=WILL_USER_PROPERTIES)
    return will


def hold(args):
    """The process that gets killed: connects with a will, says so, then waits to be killed (30 s at most)."""
    client = Client(args, will=will_for(args, args.topic, b"killed"), name="client with a will")
    client.connect()
    print("connected", flush=True)
    time.sleep(30)


def body(args):
    if args.topic:
        return hold(args)
    topic = unique("paho-will")
    watcher = Client(args, name="watcher")
    watcher.connect()
    watcher.subscribe(topic, qos=1)

    # A normal DISCONNECT discards the will.
    polite = Client(args, will=will_for(args, topic, b"should not be sent"), name="client disconnecting normally")
    polite.connect()
    polite.disconnect()
    publisher = Client(args, name="publisher")
    publisher.connect()
    publisher.publish(topic, b"marker", qos=1)
    message = watcher.next_message("marker")
    check(message.payload == b"marker", f"after a normal disconnect the watcher got {message.payload!r}, expected only the marker")

    doomed = subprocess.Popen(
        [sys.executable, __file__, "--port", str(args.port), "--protocol", str(args.protocol), "--topic", topic],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = doomed.stdout.readline().strip()
        check(line == "connected", f"the client with a will did not connect: {line!r}")
        os.kill(doomed.pid, signal.SIGKILL)
    finally:
        doomed.kill()
        doomed.wait()

    message = watcher.next_message("will after SIGKILL")
    check(message.topic == topic and message.payload == b"killed",
          f"expected will b'killed' on {topic}, got {message.payload!r} on {message.topic}")
    check(message.qos == 1, f"will delivered at QoS {message.qos}, expected 1")
    if args.protocol == 5:
        got = prop(message, "UserProperty", [])
        check(got == WILL_USER_PROPERTIES, f"will user properties {got}, expected {WILL_USER_PROPERTIES}")
    publisher.disconnect()
    watcher.disconnect()


if __name__ == "__main__":
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--topic")
    topic = extra.parse_known_args()[0].topic

    def with_topic(args):
        args.topic = topic
        body(args)

    run(with_topic)
