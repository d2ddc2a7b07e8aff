"""Three `starling` nodes as one broker on a PostgreSQL database, with real clients:

- `starling ctl nodes` and the dashboard list the three nodes;
- mosquitto_pub on one node, mosquitto_sub on another;
- paho-mqtt QoS 0, 1 and 2 across nodes, each message once;
- a persistent session that moves to another node with the QoS 1 messages queued for it;
- a retained message set on one node, read on another;
- a `$share/` group with members on several nodes: each message once, a member on the publisher's node first;
- SIGKILL of a node while QoS 1 and QoS 2 publishers on another node publish to persistent subscribers on it:
  the subscribers move to a third node and get every acknowledged message (QoS 2 ones at most once but for
  those in flight on the killed node's link at the kill, counted), and the will of a client of the killed node
  is published by a survivor; what a shared group's member on the killed node had not acknowledged goes to the
  group's member on another node.

    python3 cluster_test.py --starling PATH --postgres postgres://…/DATABASE [--screenshots DIR]
    (an empty database; with --screenshots, node 1's dashboard is checked in headless Chromium too)

Scripts/interop.sh runs it through with_postgres_database.sh.

Prints what it saw; exits 0 when everything holds, otherwise prints the reason as its last line and exits 1.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from crash_test import Broker, CheckFailed, Publisher, Subscriber, check, connect, free_port, make_client

HOST = "127.0.0.1"
NODE_TIMEOUT = 3


class Node(Broker):
    """One `starling serve` of the cluster; killed as `Broker` kills."""

    def __init__(self, starling, name, url, log):
        super().__init__(starling, None, free_port(), log)
        self.name, self.url = name, url
        self.http_port = free_port()

    def start(self):
        environment = dict(os.environ, STARLING_CLUSTER_NODE_TIMEOUT=str(NODE_TIMEOUT))
        self.process = subprocess.Popen(
            ["timeout", "-s", "KILL", "600", self.starling, "--host", HOST, "--port", str(self.port), "--cluster", self.url,
             "--node", self.name, "--http-port", str(self.http_port), "--log-level", "notice", "--threads", "2",
             "--max-queued", "1000000"],
            stdout=self.log, stderr=self.log, env=environment)
        wait_for(f"node {self.name} accepting connections", self.accepts, seconds=30)

    def accepts(self):
        check(self.process.poll() is None, f"node {self.name} exited with status {self.process.returncode} at start")
        try:
            with socket.create_connection((HOST, self.port), timeout=0.5):
                return True
        except OSError:
            return False


def paho(client_id, v5=True, clean=True):
    client = make_client(client_id, v5, persistent=not clean)
    received = []
    lock = threading.Lock()
    connected = threading.Event()

    def on_message(_client, _userdata, message):
        with lock:
            received.append((message.topic, message.payload.decode(), message.qos, message.retain))

    client.on_message = on_message
    client.on_connect = lambda *_: connected.set()
    return client, received, lock, connected


def wait_for(what, condition, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise CheckFailed(f"{what}: not within {seconds} s")


def routes_settle():
    # A subscription reaches the other nodes' routes within a heartbeat (1 s) or at once through NOTIFY.
    time.sleep(1.5)


def nodes_listed(nodes):
    """`starling ctl nodes` on each node lists the three, itself marked, all alive and linked."""
    import json
    for node in nodes:
        def listed():
            output = subprocess.run([node.starling, "ctl", "nodes", "--http", f"http://{HOST}:{node.http_port}", "--json"],
                                    capture_output=True, text=True, timeout=10).stdout
            try:
                return json.loads(output)
            except ValueError:
                return {}
        wait_for(f"node {node.name} listing three nodes, alive and linked",
                 lambda: (lambda body: body.get("clustered") and len(body.get("nodes", [])) == 3
                          and all(n["alive"] and (n["self"] or n["linked"]) for n in body["nodes"]))(listed()))
        body = listed()
        check(body["nodes"][0]["name"] == node.name and body["nodes"][0]["self"], f"node {node.name} does not list itself first")
    text = subprocess.run([nodes[0].starling, "ctl", "nodes", "--http", f"http://{HOST}:{nodes[0].http_port}"],
                          capture_output=True, text=True, timeout=10).stdout
    check("n1 *" in text and "n3" in text, f"starling ctl nodes printed: {text!r}")
    print("starling ctl nodes on each node: three nodes, alive and linked")


def dashboard_lists_nodes(nodes, screenshots):
    """The dashboard of node 1, in headless Chromium, shows the three nodes: itself, and the others alive and linked."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.get(f"http://{HOST}:{nodes[0].http_port}/#/overview")

        def rows():
            return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                    for row in driver.find_elements(By.CSS_SELECTOR, "#nodes-body tr[data-node]")]
        try:
            WebDriverWait(driver, 20, poll_frequency=0.1).until(
                lambda _: len(rows()) == 3 and all("linked" in row[2] or "this node" in row[2] for row in rows()))
        except Exception:
            raise CheckFailed(f"the dashboard's nodes: {rows()}") from None
        table = rows()
        check([row[0] for row in table] == ["n1", "n2", "n3"], f"the dashboard lists the nodes {table}")
        check(table[0][2] == "this node" and all(row[2] == "alive linked" for row in table[1:]), f"the nodes' states {table}")
        check(driver.find_element(By.ID, "nodes-summary").text == "3 of 3 alive", "the nodes' summary")
        os.makedirs(screenshots, exist_ok=True)
        driver.save_screenshot(os.path.join(screenshots, "cluster-nodes.png"))
    finally:
        driver.quit()
    print("the dashboard of node 1 lists the three nodes, alive and linked")


def mosquitto_across_nodes(nodes):
    topic = f"cluster/mosquitto/{uuid.uuid4().hex[:8]}"
    sub = subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", str(nodes[1].port), "-t", topic, "-C", "3", "-W", "30", "-q", "1"],
                           stdout=subprocess.PIPE, text=True)
    routes_settle()
    for number in range(3):
        subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(nodes[0].port), "-t", topic, "-m", f"m{number}", "-q", "1"],
                       check=True, timeout=10)
    output, _ = sub.communicate(timeout=40)
    check(output.split() == ["m0", "m1", "m2"], f"mosquitto_sub on node 2 got {output.split()} from node 1")
    print("mosquitto_pub on one node, mosquitto_sub on another: 3 of 3")


def paho_across_nodes(nodes):
    for qos in (0, 1, 2):
        topic = f"cluster/paho/{qos}/{uuid.uuid4().hex[:8]}"
        subscriber, received, lock, connected = paho(f"cluster-sub-{uuid.uuid4().hex[:8]}")
        subscriber.connect(HOST, nodes[2].port)
        subscriber.loop_start()
        wait_for("subscriber connected", connected.is_set)
        subscriber.subscribe(topic + "/#", qos=qos)
        routes_settle()
        publisher, _, _, pub_connected = paho(f"cluster-pub-{uuid.uuid4().hex[:8]}")
        publisher.connect(HOST, nodes[0].port)
        publisher.loop_start()
        wait_for("publisher connected", pub_connected.is_set)
        for number in range(50):
            publisher.publish(f"{topic}/{number % 5}", f"{number}", qos=qos).wait_for_publish(10)
        wait_for(f"50 QoS {qos} messages across nodes", lambda: len(received) >= 50)
        time.sleep(0.3)
        with lock:
            payloads = [int(payload) for _, payload, _, _ in received]
        check(sorted(payloads) == list(range(50)), f"QoS {qos}: got {len(payloads)} messages, not 50 each once")
        check(payloads == sorted(payloads), f"QoS {qos}: out of order")
        for client in (publisher, subscriber):
            client.disconnect()
            client.loop_stop()
    print("paho QoS 0, 1, 2 from node 1 to node 3: 50 each, once each, in order")


def session_moves(nodes):
    client_id = f"cluster-roamer-{uuid.uuid4().hex[:8]}"
    topic = f"cluster/roam/{uuid.uuid4().hex[:8]}"
    first, _, _, connected = paho(client_id, v5=False, clean=False)
    first.connect(HOST, nodes[0].port)
    first.loop_start()
    wait_for("roamer connected", connected.is_set)
    first.subscribe(topic, qos=1)
    routes_settle()
    first.disconnect()
    first.loop_stop()
    publisher, _, _, pub_connected = paho(f"cluster-pub-{uuid.uuid4().hex[:8]}")
    publisher.connect(HOST, nodes[2].port)
    publisher.loop_start()
    wait_for("publisher connected", pub_connected.is_set)
    for number in range(10):
        publisher.publish(topic, f"queued {number}", qos=1).wait_for_publish(10)
    publisher.disconnect()
    publisher.loop_stop()

    second, received, lock, _ = paho(client_id, v5=False, clean=False)
    present = []
    second.on_connect = lambda _c, _u, flags, _rc, _p: present.append(flags.session_present)
    second.connect(HOST, nodes[1].port)
    second.loop_start()
    wait_for("the roamer's queued messages on node 2", lambda: len(received) >= 10)
    time.sleep(0.3)
    second.disconnect()
    second.loop_stop()
    check(present == [True], f"session present {present} on node 2")
    with lock:
        payloads = [payload for _, payload, _, _ in received]
    check(payloads == [f"queued {number}" for number in range(10)], f"the moved session delivered {payloads}")
    print("a persistent session moved from node 1 to node 2 with its 10 queued QoS 1 messages, in order")


def shared_across_nodes(nodes):
    """A `$share/` group with members on nodes 2 and 3 gets each message published on node 1 once, the two nodes
    taking turns; with a member on node 1 too, that member gets every message published there."""
    stamp = uuid.uuid4().hex[:8]
    group = f"$share/g{stamp}/cluster/shared/{stamp}/+"
    members = []
    for node in (nodes[1], nodes[2], nodes[0]):
        client, received, lock, connected = paho(f"cluster-member-{node.name}-{stamp}")
        client.connect(HOST, node.port)
        client.loop_start()
        wait_for("member connected", connected.is_set)
        members.append((client, received, lock))
        if node is nodes[0]:
            break
        client.subscribe(group, qos=1)
    routes_settle()
    publisher, _, _, pub_connected = paho(f"cluster-pub-{stamp}")
    publisher.connect(HOST, nodes[0].port)
    publisher.loop_start()
    wait_for("publisher connected", pub_connected.is_set)

    def payloads(index):
        with members[index][2]:
            return [payload for _, payload, _, _ in members[index][1]]

    for number in range(40):
        publisher.publish(f"cluster/shared/{stamp}/{number % 4}", f"{number}", qos=1).wait_for_publish(10)
    wait_for("40 messages to the group", lambda: len(payloads(0)) + len(payloads(1)) >= 40)
    got = payloads(0) + payloads(1)
    check(sorted(map(int, got)) == list(range(40)), f"the group got {len(got)} messages, not 40 each once")
    check(payloads(0) and payloads(1), f"one node's member got them all: {len(payloads(0))} and {len(payloads(1))}")
    subscribed = threading.Event()
    members[2][0].on_subscribe = lambda *_: subscribed.set()
    members[2][0].subscribe(group, qos=1)
    wait_for("the member on node 1 subscribed", subscribed.is_set)
    for number in range(40, 60):
        publisher.publish(f"cluster/shared/{stamp}/{number % 4}", f"{number}", qos=1).wait_for_publish(10)
    wait_for("20 messages to the member on node 1", lambda: len(payloads(2)) >= 20)
    check(sorted(map(int, payloads(2))) == list(range(40, 60)), f"the member on node 1 got {payloads(2)}")
    check(len(payloads(0)) + len(payloads(1)) == 40, "members on other nodes got messages published beside a member")
    print(f"a shared group with members on nodes 2 and 3 got 40 messages from node 1 once each "
          f"({len(payloads(0))} and {len(payloads(1))}); with a member on node 1, it got all 20 published there")
    for client in [publisher] + [member[0] for member in members]:
        client.disconnect()
        client.loop_stop()


def retained_across_nodes(nodes):
    topic = f"cluster/retained/{uuid.uuid4().hex[:8]}"
    subprocess.run(["mosquitto_pub", "-h", HOST, "-p", str(nodes[0].port), "-t", topic, "-m", "kept", "-r", "-q", "1"],
                   check=True, timeout=10)
    output = ""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and output != "kept":
        output = subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(nodes[2].port), "-t", topic, "-C", "1", "-W", "2"],
                                capture_output=True, text=True).stdout.strip()
    check(output == "kept", f"the retained message set on node 1 read on node 3: {output!r}")
    print("a retained message set on node 1 is served by node 3")


def node_killed(nodes):
    """SIGKILL of node 1 with persistent subscribers and a will client on it, publishers on node 2."""
    stamp = uuid.uuid4().hex[:6]
    q1 = Subscriber("q1-311", f"kill/{stamp}/q1", 1, v5=False, port=nodes[0].port)
    q2 = Subscriber("q2-v5", f"kill/{stamp}/q2", 2, v5=True, port=nodes[0].port)
    for subscriber in (q1, q2):
        check(subscriber.subscribed.wait(10), f"{subscriber.name} did not subscribe on node 1")
    will_topic = f"kill/{stamp}/will"
    watcher, watched, watch_lock, watcher_connected = paho(f"cluster-watcher-{stamp}")
    watcher.connect(HOST, nodes[2].port)
    watcher.loop_start()
    wait_for("watcher connected", watcher_connected.is_set)
    watcher.subscribe(will_topic, qos=1)
    willing = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cluster-willing-{stamp}", protocol=mqtt.MQTTv5)
    willing.will_set(will_topic, "node 1 is gone", qos=1)
    expiry = Properties(PacketTypes.CONNECT)
    expiry.SessionExpiryInterval = 3600
    willing.connect(HOST, nodes[0].port, keepalive=60, clean_start=True, properties=expiry)
    willing.loop_start()
    # A session that ends with its connection: its will, too, is published by a survivor.
    fleeting = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"cluster-fleeting-{stamp}", protocol=mqtt.MQTTv5)
    fleeting.will_set(will_topic, "node 1's clean-session client is gone", qos=1)
    fleeting.connect(HOST, nodes[0].port, keepalive=60, clean_start=True)
    fleeting.loop_start()
    # A shared group with a member on node 1 that never acknowledges and a member on node 3: what node 1's member
    # had not acknowledged at the kill goes to node 3's.
    shared_topic = f"kill/{stamp}/shared"
    group = f"$share/k{stamp}/{shared_topic}"
    idle_received = []
    idle = make_client(f"cluster-idle-{stamp}", True)
    idle.manual_ack_set(True)
    idle.on_message = lambda _c, _u, message: idle_received.append(message.payload.decode())
    idle_subscribed = threading.Event()
    idle.on_subscribe = lambda *_: idle_subscribed.set()
    idle.on_connect = lambda client, *_: client.subscribe(group, qos=1)
    connect(idle, nodes[0].port, True)
    check(idle_subscribed.wait(10), "the idle member did not subscribe on node 1")
    steady = Subscriber("shared-steady", group, 1, v5=True, port=nodes[2].port)
    check(steady.subscribed.wait(10), "the steady member did not subscribe on node 3")
    routes_settle()

    publishers = [Publisher("p1", q1.topic, 1, True, nodes[1].port), Publisher("p2", q2.topic, 2, True, nodes[1].port)]
    shared_publisher = Publisher("p3", shared_topic, 1, True, nodes[1].port)
    time.sleep(1.5)
    killed_at = time.monotonic()
    nodes[0].kill()
    # It never comes back: its session is taken up with what it had not acknowledged.
    idle.loop_stop()
    # paho would reconnect to the dead node: the subscribers move to node 3 with their sessions.
    for subscriber in (q1, q2):
        subscriber.client.loop_stop()
        subscriber.port = nodes[2].port
        connect(subscriber.client, nodes[2].port, subscriber.v5, clean_start=False)
    time.sleep(4)
    for publisher in publishers + [shared_publisher]:
        publisher.stop_publishing()
    for publisher in publishers + [shared_publisher]:
        publisher.finish()

    def complete():
        return all(set(publisher.acked) <= set(subscriber.snapshot())
                   for publisher, subscriber in zip(publishers + [shared_publisher], (q1, q2, steady)))

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not complete():
        time.sleep(0.2)
    time.sleep(0.5)
    for publisher, subscriber in zip(publishers, (q1, q2)):
        got, lost, duplicated = tally(publisher, subscriber)
        print(f"{subscriber.name}: {len(publisher.acked)} acknowledged, {len(got)} distinct received, "
              f"{len(lost)} acknowledged but lost, {duplicated} duplicated")
        check(not lost, f"{subscriber.name}: {len(lost)} acknowledged messages lost, such as {sorted(lost)[:3]}")
        if subscriber.qos == 2:
            # Exactly once across the kill: neither what the killed node took from a link before it died nor what
            # was published while its sessions were taken up comes again.
            check(duplicated == 0, f"{subscriber.name}: {duplicated} QoS 2 messages delivered twice")
    got, lost, duplicated = tally(shared_publisher, steady)
    print(f"shared group: {len(shared_publisher.acked)} acknowledged, {len(idle_received)} given to node 1's member, "
          f"which acknowledged none; node 3's member received {len(got)} distinct, {len(lost)} acknowledged but lost, "
          f"{duplicated} duplicated")
    check(idle_received, "node 1's member of the shared group was given nothing: the check proves nothing")
    check(not lost, f"shared group: {len(lost)} acknowledged messages lost, such as {sorted(lost)[:3]}")
    for payload_wanted in ("node 1 is gone", "node 1's clean-session client is gone"):
        wait_for(f"the will {payload_wanted!r}", lambda: any(payload == payload_wanted for _, payload, _, _ in watched),
                 seconds=NODE_TIMEOUT + 20)
    print(f"the wills of two clients of the killed node (one with a clean session) were published by a survivor "
          f"{time.monotonic() - killed_at:.1f} s after the kill (node timeout {NODE_TIMEOUT} s)")
    for client in (watcher, willing, fleeting):
        client.loop_stop()
    for subscriber in (q1, q2, steady):
        subscriber.client.disconnect()
        subscriber.client.loop_stop()


def tally(publisher, subscriber):
    """What `subscriber` received (payload: count), the payloads `publisher` had acknowledged that it did not
    receive, and how many copies beyond the first it received."""
    got = subscriber.snapshot()
    lost = [payload for payload in publisher.acked if payload not in got]
    return got, lost, sum(count - 1 for count in got.values() if count > 1)


def fail_with_log(failure, log, work, lines=25):
    """Prints the last lines the nodes wrote to `log` (work/nodes.log), then `failure`, and exits 1."""
    log.flush()
    with open(os.path.join(work, "nodes.log"), "rb") as f:
        tail = f.read().decode(errors="replace").splitlines()[-lines:]
    print("-- nodes' output (last lines):\n" + "\n".join(tail))
    print(failure)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starling", required=True)
    parser.add_argument("--postgres", required=True, help="the postgres:// URL of an empty database")
    parser.add_argument("--screenshots", help="when given, the dashboard is checked in headless Chromium and its "
                        "screenshot left in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="starling-cluster-") as work:
        log = open(os.path.join(work, "nodes.log"), "ab")
        nodes = [Node(os.path.abspath(args.starling), f"n{index}", args.postgres, log) for index in (1, 2, 3)]
        try:
            for node in nodes:
                node.start()
            nodes_listed(nodes)
            if args.screenshots:
                dashboard_lists_nodes(nodes, args.screenshots)
            mosquitto_across_nodes(nodes)
            paho_across_nodes(nodes)
            session_moves(nodes)
            retained_across_nodes(nodes)
            shared_across_nodes(nodes)
            node_killed(nodes)
        except (CheckFailed, subprocess.SubprocessError) as failure:
            fail_with_log(failure, log, work)
        finally:
            for node in nodes:
                node.stop()


if __name__ == "__main__":
    main()
