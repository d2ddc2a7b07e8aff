"""Scrapes a running broker's /metrics with Prometheus' own parser (PyPI prometheus_client) after MQTT traffic,
and checks the families, their types and that the counters moved:

    python3 Tests/Operations/metrics_check.py --http http://127.0.0.1:HTTPPORT --mqtt-port MQTTPORT [--token TOKEN]

Prints `PASS metrics` and exits 0, or one line saying what failed and exits 1.
"""

import argparse
import sys
import threading
import urllib.request
import uuid

import paho.mqtt.client as mqtt
from prometheus_client.parser import text_string_to_metric_families

EXPECTED = {
    "starling_connections": "gauge",
    "starling_connections_hibernating": "gauge",
    "starling_connections_accepted": "counter",
    "starling_listener_connections": "gauge",
    "starling_sessions": "gauge",
    "starling_sessions_offline": "gauge",
    "starling_session_events": "counter",
    "starling_subscriptions": "gauge",
    "starling_subscriptions_shared": "gauge",
    "starling_retained_messages": "gauge",
    "starling_retained_bytes": "gauge",
    "starling_messages_received": "counter",
    "starling_messages_sent": "counter",
    "starling_payload_bytes_received": "counter",
    "starling_payload_bytes_sent": "counter",
    "starling_bytes_received": "counter",
    "starling_bytes_sent": "counter",
    "starling_messages_dropped": "counter",
    "starling_authentications": "counter",
    "starling_authorizations": "counter",
    "starling_delivery_duration_seconds": "histogram",
    "starling_uptime_seconds": "gauge",
    "starling_build_info": "gauge",
}


def scrape(base, token):
    request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("text/plain"):
            raise AssertionError(f"/metrics answered Content-Type {content_type!r}")
        return {family.name: family for family in text_string_to_metric_families(response.read().decode())}


def sample(families, name, sample_name, **labels):
    for s in families[name].samples:
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no sample {sample_name}{labels}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True)
    parser.add_argument("--mqtt-port", type=int, required=True)
    parser.add_argument("--token")
    arguments = parser.parse_args()
    base = arguments.http.rstrip("/")

    before = scrape(base, arguments.token)
    for name, kind in EXPECTED.items():
        if name not in before:
            raise AssertionError(f"family {name} missing")
        if before[name].type != kind:
            raise AssertionError(f"family {name} is a {before[name].type}, expected {kind}")
    for family in before.values():
        for s in family.samples:
            for key, value in s.labels.items():
                if key in ("client", "client_id", "topic"):
                    raise AssertionError(f"unbounded label {key}={value} on {s.name}")

    received = threading.Event()
    count = 130
    got = []
    topic = f"metrics/{uuid.uuid4().hex}"
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"metrics-sub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda *args: subscribed.set()

    def on_message(client, userdata, message):
        got.append(message)
        if len(got) == count:
            received.set()

    subscriber.on_message = on_message
    subscriber.connect("127.0.0.1", arguments.mqtt_port)
    subscriber.loop_start()
    subscriber.subscribe(topic, qos=1)
    if not subscribed.wait(10):
        raise AssertionError("no SUBACK within 10 s")
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"metrics-pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
    publisher.connect("127.0.0.1", arguments.mqtt_port)
    publisher.loop_start()
    for index in range(count):
        publisher.publish(topic, b"x" * 10, qos=1).wait_for_publish(10)
    if not received.wait(20):
        raise AssertionError(f"{len(got)} of {count} messages arrived within 20 s")

    after = scrape(base, arguments.token)
    sent_before = sample(before, "starling_messages_received", "starling_messages_received_total", qos="1")
    sent_after = sample(after, "starling_messages_received", "starling_messages_received_total", qos="1")
    if sent_after - sent_before < count:
        raise AssertionError(f"starling_messages_received_total{{qos=1}} rose by {sent_after - sent_before}, expected {count}")
    bytes_delta = sample(after, "starling_payload_bytes_received", "starling_payload_bytes_received_total", qos="1") - sample(
        before, "starling_payload_bytes_received", "starling_payload_bytes_received_total", qos="1")
    if bytes_delta < count * 10:
        raise AssertionError(f"payload bytes rose by {bytes_delta}, expected {count * 10}")
    if sample(after, "starling_connections", "starling_connections") < 2:
        raise AssertionError("starling_connections below the 2 clients connected")
    if sample(after, "starling_delivery_duration_seconds", "starling_delivery_duration_seconds_count") < 2:
        raise AssertionError("no delivery timed after 130 messages")
    publisher.disconnect()
    subscriber.disconnect()
    publisher.loop_stop()
    subscriber.loop_stop()
    print("PASS metrics")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # one line, for the check's report
        print(f"FAIL metrics: {error}")
        sys.exit(1)
