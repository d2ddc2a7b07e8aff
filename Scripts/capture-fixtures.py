#!/usr/bin/env python3
"""Capture the exact bytes real MQTT clients send, as decoder test fixtures.

Runs a tiny fake MQTT server on 127.0.0.1 (port from argv[1], default 18830),
drives mosquitto_pub/mosquitto_sub, paho-mqtt (Python) and MQTT.js (node)
through fixed scenarios, and writes selected client->server packets to
Tests/MQTTTests/Fixtures/<name>.hex (lowercase hex, one packet per file, one
line, no whitespace).

Usage:
    python3 Scripts/capture-fixtures.py [port]      # regenerate all fixtures
    python3 Scripts/capture-fixtures.py --describe  # decode existing fixtures

Stdlib only. Client ids, payloads and packet ids are fixed so re-running
yields byte-identical fixtures.
"""

import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "MQTTTests", "Fixtures")
HOST = "127.0.0.1"

TYPE_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK",
    10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
    14: "DISCONNECT", 15: "AUTH",
}


# --------------------------------------------------------------------------
# Wire helpers
# --------------------------------------------------------------------------

def encode_varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def decode_varint(buf, pos):
    mult, value = 1, 0
    for _ in range(4):
        b = buf[pos]
        pos += 1
        value += (b & 0x7F) * mult
        if not b & 0x80:
            return value, pos
        mult *= 128
    raise ValueError("malformed variable byte integer")


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_packet(sock):
    """Return the full bytes of one packet, or None on EOF."""
    first = recv_exact(sock, 1)
    if first is None:
        return None
    header = bytearray(first)
    length, mult = 0, 1
    for _ in range(4):
        b = recv_exact(sock, 1)
        if b is None:
            return None
        header += b
        length += (b[0] & 0x7F) * mult
        if not b[0] & 0x80:
            break
        mult *= 128
    body = recv_exact(sock, length) if length else b""
    if body is None:
        return None
    return bytes(header) + body


def split_packet(pkt):
    """(type, flags, body) for a full packet."""
    length, pos = decode_varint(pkt, 1)
    return pkt[0] >> 4, pkt[0] & 0x0F, pkt[pos:pos + length]


# --------------------------------------------------------------------------
# Fake server: answers just enough for clients to proceed
# --------------------------------------------------------------------------

def response_for(pkt, state):
    ptype, flags, body = split_packet(pkt)
    v5 = state.get("v5", False)
    if ptype == 1:  # CONNECT
        name_len = int.from_bytes(body[0:2], "big")
        level = body[2 + name_len]
        state["v5"] = level == 5
        return bytes.fromhex("2003000000" if level == 5 else "20020000")
    if ptype == 3:  # PUBLISH
        qos = (flags >> 1) & 3
        if qos == 0:
            return None
        tlen = int.from_bytes(body[0:2], "big")
        pid = body[2 + tlen:4 + tlen]
        return (b"\x40\x02" if qos == 1 else b"\x50\x02") + pid
    if ptype == 6:  # PUBREL -> PUBCOMP
        return b"\x70\x02" + body[0:2]
    if ptype in (8, 10):  # SUBSCRIBE / UNSUBSCRIBE
        pid = body[0:2]
        pos = 2
        if v5:
            plen, pos = decode_varint(body, pos)
            pos += plen
        codes = bytearray()
        while pos < len(body):
            tlen = int.from_bytes(body[pos:pos + 2], "big")
            pos += 2 + tlen
            if ptype == 8:
                codes.append(body[pos] & 0x03)  # grant requested QoS
                pos += 1
            else:
                codes.append(0)
        if ptype == 8:
            rest = pid + (b"\x00" if v5 else b"") + bytes(codes)
            return b"\x90" + encode_varint(len(rest)) + rest
        if not v5:
            return b"\xb0\x02" + pid
        rest = pid + b"\x00" + bytes(codes)
        return b"\xb0" + encode_varint(len(rest)) + rest
    if ptype == 12:  # PINGREQ
        return b"\xd0\x00"
    return None


def serve_one(listener, proc, limit):
    """Accept one connection, record every client packet until EOF."""
    listener.settimeout(limit)
    try:
        conn, _ = listener.accept()
    except socket.timeout:
        return []
    packets, state = [], {}
    deadline = time.time() + limit
    with conn:
        while time.time() < deadline:
            conn.settimeout(max(0.1, deadline - time.time()))
            try:
                pkt = read_packet(conn)
            except (socket.timeout, ConnectionResetError):
                break
            if pkt is None:
                break
            packets.append(pkt)
            reply = response_for(pkt, state)
            if reply:
                try:
                    conn.sendall(reply)
                except OSError:
                    break
    return packets


def drain(listener):
    """Close any stray extra connections (e.g. reconnect attempts)."""
    listener.settimeout(0.05)
    while True:
        try:
            conn, _ = listener.accept()
            conn.close()
        except (socket.timeout, BlockingIOError, OSError):
            return


# --------------------------------------------------------------------------
# Client drivers
# --------------------------------------------------------------------------

PAHO = r'''
import sys, threading, time
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

port, ver, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
v5 = ver == "v5"
proto = {"v31": mqtt.MQTTv31, "v311": mqtt.MQTTv311, "v5": mqtt.MQTTv5}[ver]
kw = {} if v5 else {"clean_session": True}
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fx-paho",
                protocol=proto, **kw)
c.username_pw_set("user", "pass")
ev = {k: threading.Event() for k in ("conn", "sub", "unsub")}
c.on_connect = lambda *a: ev["conn"].set()
c.on_subscribe = lambda *a: ev["sub"].set()
c.on_unsubscribe = lambda *a: ev["unsub"].set()

def pub_props():
    p = Properties(PacketTypes.PUBLISH)
    p.PayloadFormatIndicator = 1
    p.MessageExpiryInterval = 3600
    p.ContentType = "text/plain"
    p.ResponseTopic = "fx/reply"
    p.CorrelationData = b"corr-1"
    p.UserProperty = ("k", "v")
    p.UserProperty = ("k2", "v2")
    return p

if mode != "ping":
    wp = None
    if v5:
        wp = Properties(PacketTypes.WILLMESSAGE)
        wp.WillDelayInterval = 5
        wp.UserProperty = ("wk", "wv")
    c.will_set("will/t", b"bye", qos=1, retain=True, properties=wp)
cp = None
ckw = {}
if v5:
    cp = Properties(PacketTypes.CONNECT)
    cp.SessionExpiryInterval = 300
    cp.ReceiveMaximum = 20
    cp.UserProperty = ("k", "v")
    ckw = {"clean_start": True, "properties": cp}
c.connect("127.0.0.1", port, keepalive=1 if mode == "ping" else 60, **ckw)
c.loop_start()
assert ev["conn"].wait(5)
if mode == "ping":
    time.sleep(2.5)
elif mode == "full":
    if v5:
        sp = Properties(PacketTypes.SUBSCRIBE)
        sp.SubscriptionIdentifier = 7
        sp.UserProperty = ("k", "v")
        c.subscribe([("a/b", SubscribeOptions(qos=0)),
                     ("c/+/d", SubscribeOptions(qos=1, noLocal=True)),
                     ("e/#", SubscribeOptions(qos=2, retainAsPublished=True,
                                              retainHandling=2))],
                    properties=sp)
    else:
        c.subscribe([("a/b", 0), ("c/+/d", 1), ("e/#", 2)])
    assert ev["sub"].wait(5)
    for q in (0, 1, 2):
        c.publish("fx/q%d" % q, b"hello%d" % q, qos=q).wait_for_publish(5)
    if v5:
        for q in (0, 1, 2):
            c.publish("fx/p%d" % q, b"props%d" % q, qos=q,
                      properties=pub_props()).wait_for_publish(5)
        up = Properties(PacketTypes.UNSUBSCRIBE)
        up.UserProperty = ("k", "v")
        c.unsubscribe(["a/b", "c/+/d", "e/#"], properties=up)
    else:
        c.unsubscribe(["a/b", "c/+/d", "e/#"])
    assert ev["unsub"].wait(5)
if v5 and mode == "full":
    dp = Properties(PacketTypes.DISCONNECT)
    dp.UserProperty = ("k", "v")
    c.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT,
                                       identifier=4), properties=dp)
else:
    c.disconnect()
c.loop_stop()
'''

MQTTJS = r'''
const mqtt = require('mqtt')
const [port, ver, mode] = process.argv.slice(1)
const v5 = ver === 'v5'
let next = 1
const idp = {
  allocate () { return next++ },
  getLastAllocated () { return next - 1 },
  register () { return true },
  deallocate () {},
  clear () {}
}
const opts = {
  host: '127.0.0.1', port: Number(port), clientId: 'fx-mqttjs',
  username: 'user', password: 'pass', clean: true,
  keepalive: mode === 'ping' ? 1 : 60, reconnectPeriod: 0,
  protocolVersion: { v31: 3, v311: 4, v5: 5 }[ver],
  messageIdProvider: idp
}
if (ver === 'v31') opts.protocolId = 'MQIsdp'
if (mode !== 'ping') {
  opts.will = { topic: 'will/t', payload: 'bye', qos: 1, retain: true }
  if (v5) opts.will.properties = { willDelayInterval: 5, userProperties: { wk: 'wv' } }
}
if (v5) opts.properties = { sessionExpiryInterval: 300, receiveMaximum: 20, userProperties: { k: 'v' } }
const pubProps = {
  payloadFormatIndicator: true, messageExpiryInterval: 3600,
  contentType: 'text/plain', responseTopic: 'fx/reply',
  correlationData: Buffer.from('corr-1'), userProperties: { k: 'v', k2: 'v2' }
}
const p = (f) => new Promise((resolve, reject) => f((e) => e ? reject(e) : resolve()))
const c = mqtt.connect(opts)
c.on('error', (e) => { console.error(e); process.exit(1) })
c.once('connect', async () => {
  if (mode === 'ping') {
    await new Promise((resolve) => setTimeout(resolve, 2500))
  } else if (mode === 'full') {
    if (v5) {
      await p(cb => c.subscribe({
        'a/b': { qos: 0 },
        'c/+/d': { qos: 1, nl: true },
        'e/#': { qos: 2, rap: true, rh: 2 }
      }, { properties: { subscriptionIdentifier: 7, userProperties: { k: 'v' } } }, cb))
    } else {
      await p(cb => c.subscribe({ 'a/b': { qos: 0 }, 'c/+/d': { qos: 1 }, 'e/#': { qos: 2 } }, cb))
    }
    for (const q of [0, 1, 2]) await p(cb => c.publish('fx/q' + q, 'hello' + q, { qos: q }, cb))
    if (v5) {
      for (const q of [0, 1, 2]) {
        await p(cb => c.publish('fx/p' + q, 'props' + q, { qos: q, properties: pubProps }, cb))
      }
      await p(cb => c.unsubscribe(['a/b', 'c/+/d', 'e/#'], { properties: { userProperties: { k: 'v' } } }, cb))
    } else {
      await p(cb => c.unsubscribe(['a/b', 'c/+/d', 'e/#'], cb))
    }
  }
  const dopts = (v5 && mode === 'full') ? { reasonCode: 4, properties: { userProperties: { k: 'v' } } } : {}
  c.end(false, dopts, () => process.exit(0))
})
'''


def mosq(port, ver, tool, args):
    v = {"v31": "mqttv31", "v311": "mqttv311", "v5": "mqttv5"}[ver]
    return [tool, "-h", HOST, "-p", str(port), "-V", v] + args


def scenarios(port):
    """Yield (label, argv, env, {packet-key: fixture-name}).

    A packet key is "TYPE" (first packet of that type) or "TYPE#n"
    (n-th packet of that type, 0-based)."""
    sc = []
    will = ["--will-topic", "will/t", "--will-payload", "bye",
            "--will-qos", "1", "--will-retain"]
    creds = ["-u", "user", "-P", "pass"]
    v5conn = ["-x", "300", "-D", "connect", "receive-maximum", "20",
              "-D", "connect", "user-property", "k", "v",
              "-D", "will", "will-delay-interval", "5",
              "-D", "will", "user-property", "wk", "wv"]
    v5pub = ["-D", "publish", "payload-format-indicator", "1",
             "-D", "publish", "message-expiry-interval", "3600",
             "-D", "publish", "content-type", "text/plain",
             "-D", "publish", "response-topic", "fx/reply",
             "-D", "publish", "correlation-data", "corr-1",
             "-D", "publish", "user-property", "k", "v",
             "-D", "publish", "user-property", "k2", "v2"]

    # ---- mosquitto_pub / mosquitto_sub ----
    sc.append(("mosquitto v31 connect",
               mosq(port, "v31", "mosquitto_pub", ["-i", "fx-mosq"] + creds + will
                    + ["-t", "fx/q0", "-m", "hello0", "-q", "0"]),
               None, {"CONNECT": "mosquitto-v31-connect-will-credentials"}))
    for ver in ("v311", "v5"):
        pre = "mosquitto-%s-" % ver
        extra = v5conn if ver == "v5" else []
        sc.append(("mosquitto %s connect+qos0" % ver,
                   mosq(port, ver, "mosquitto_pub", ["-i", "fx-mosq"] + creds + will + extra
                        + ["-t", "fx/q0", "-m", "hello0", "-q", "0"]),
                   None, {"CONNECT": pre + "connect-will-credentials",
                          "PUBLISH": pre + "publish-qos0",
                          "DISCONNECT": pre + "disconnect"}))
        for q in (1, 2):
            save = {"PUBLISH": pre + "publish-qos%d" % q}
            if q == 2:
                save["PUBREL"] = pre + "pubrel"
            sc.append(("mosquitto %s qos%d" % (ver, q),
                       mosq(port, ver, "mosquitto_pub", ["-i", "fx-mosq", "-t", "fx/q%d" % q,
                                                         "-m", "hello%d" % q, "-q", str(q)]),
                       None, save))
        if ver == "v5":
            for q in (0, 1, 2):
                sc.append(("mosquitto v5 qos%d props" % q,
                           mosq(port, ver, "mosquitto_pub", ["-i", "fx-mosq", "-t", "fx/p%d" % q,
                                                             "-m", "props%d" % q, "-q", str(q)] + v5pub),
                           None, {"PUBLISH": pre + "publish-qos%d-properties" % q}))
            sc.append(("mosquitto v5 disconnect props",
                       mosq(port, ver, "mosquitto_pub", ["-i", "fx-mosq", "-x", "300",
                                                         "-t", "fx/q0", "-m", "hello0",
                                                         "-D", "disconnect", "session-expiry-interval", "60",
                                                         "-D", "disconnect", "user-property", "k", "v"]),
                       None, {"DISCONNECT": pre + "disconnect-properties"}))
        subx = ["--retain-as-published", "-D", "subscribe", "user-property", "k", "v"] if ver == "v5" else []
        sc.append(("mosquitto %s subscribe" % ver,
                   mosq(port, ver, "mosquitto_sub", ["-i", "fx-mosq-sub", "-t", "a/b", "-t", "c/+/d",
                                                     "-t", "e/#", "-q", "1" if ver == "v311" else "2",
                                                     "-E", "-W", "5"] + subx),
                   None, {"SUBSCRIBE": pre + "subscribe-multi"}))
        # mosquitto_sub sends one UNSUBSCRIBE packet per -U filter, so use one.
        unsx = ["-D", "unsubscribe", "user-property", "k", "v"] if ver == "v5" else []
        sc.append(("mosquitto %s unsubscribe" % ver,
                   mosq(port, ver, "mosquitto_sub", ["-i", "fx-mosq-sub", "-t", "a/b", "-U", "a/b",
                                                     "-E", "-W", "5"] + unsx),
                   None, {"UNSUBSCRIBE": pre + "unsubscribe"}))
    sc.append(("mosquitto v311 ping",
               mosq(port, "v311", "mosquitto_sub", ["-i", "fx-mosq-ping", "-k", "5", "-W", "7",
                                                    "-t", "a/b"]),
               None, {"PINGREQ": "mosquitto-v311-pingreq"}))

    # ---- paho-mqtt and MQTT.js (one full session per protocol version) ----
    node_env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
    drivers = [("paho", [sys.executable, "-c", PAHO], None),
               ("mqttjs", ["node", "-e", MQTTJS], node_env)]
    for client, argv, env in drivers:
        sc.append(("%s v31 connect" % client, argv + [str(port), "v31", "connect"], env,
                   {"CONNECT": "%s-v31-connect-will-credentials" % client}))
        for ver in ("v311", "v5"):
            pre = "%s-%s-" % (client, ver)
            save = {"CONNECT": pre + "connect-will-credentials",
                    "SUBSCRIBE": pre + "subscribe-multi",
                    "PUBLISH#0": pre + "publish-qos0",
                    "PUBLISH#1": pre + "publish-qos1",
                    "PUBLISH#2": pre + "publish-qos2",
                    "PUBREL": pre + "pubrel",
                    "UNSUBSCRIBE": pre + "unsubscribe",
                    "DISCONNECT": pre + ("disconnect-reason" if ver == "v5" else "disconnect")}
            if ver == "v5":
                save.update({"PUBLISH#3": pre + "publish-qos0-properties",
                             "PUBLISH#4": pre + "publish-qos1-properties",
                             "PUBLISH#5": pre + "publish-qos2-properties",
                             "PUBREL#1": pre + "pubrel-after-properties"})
            sc.append(("%s %s full" % (client, ver), argv + [str(port), ver, "full"], env, save))
        sc.append(("%s v311 ping" % client, argv + [str(port), "v311", "ping"], env,
                   {"PINGREQ": "%s-v311-pingreq" % client}))
    return sc


def key_packets(packets):
    keyed, counts = {}, {}
    for pkt in packets:
        name = TYPE_NAMES.get(pkt[0] >> 4, "RESERVED")
        n = counts.get(name, 0)
        counts[name] = n + 1
        keyed["%s#%d" % (name, n)] = pkt
        if n == 0:
            keyed[name] = pkt
    return keyed


def capture(port):
    os.makedirs(FIXTURES, exist_ok=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(4)
    written, missing = [], []
    try:
        for label, argv, env, save in scenarios(port):
            proc = subprocess.Popen(["timeout", "20"] + argv, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            packets = serve_one(listener, proc, 15)
            try:
                _, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            drain(listener)
            keyed = key_packets(packets)
            seq = " ".join(TYPE_NAMES.get(p[0] >> 4, "?") for p in packets)
            print("%-34s rc=%s  %s" % (label, proc.returncode, seq))
            if proc.returncode not in (0, None) and err:
                print("    stderr: " + err.decode(errors="replace").strip().replace("\n", "\n    "))
            for key, name in save.items():
                pkt = keyed.get(key)
                if pkt is None:
                    missing.append(name)
                    continue
                with open(os.path.join(FIXTURES, name + ".hex"), "w") as f:
                    f.write(pkt.hex())  # one line, no trailing newline
                written.append(name)
    finally:
        listener.close()
    print("\nwrote %d fixtures to %s" % (len(written), os.path.relpath(FIXTURES, ROOT)))
    if missing:
        print("NOT captured: " + ", ".join(missing))
        return 1
    return 0


# --------------------------------------------------------------------------
# Decoder (for --describe / README verification)
# --------------------------------------------------------------------------

PROPS = {
    0x01: ("payload format indicator", "byte"), 0x02: ("message expiry interval", "u32"),
    0x03: ("content type", "str"), 0x08: ("response topic", "str"),
    0x09: ("correlation data", "bin"), 0x0B: ("subscription identifier", "varint"),
    0x11: ("session expiry interval", "u32"), 0x12: ("assigned client identifier", "str"),
    0x13: ("server keep alive", "u16"), 0x15: ("authentication method", "str"),
    0x16: ("authentication data", "bin"), 0x17: ("request problem information", "byte"),
    0x18: ("will delay interval", "u32"), 0x19: ("request response information", "byte"),
    0x1A: ("response information", "str"), 0x1C: ("server reference", "str"),
    0x1F: ("reason string", "str"), 0x21: ("receive maximum", "u16"),
    0x22: ("topic alias maximum", "u16"), 0x23: ("topic alias", "u16"),
    0x24: ("maximum qos", "byte"), 0x25: ("retain available", "byte"),
    0x26: ("user property", "pair"), 0x27: ("maximum packet size", "u32"),
}


class Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def byte(self):
        self.pos += 1
        return self.buf[self.pos - 1]

    def u16(self):
        self.pos += 2
        return int.from_bytes(self.buf[self.pos - 2:self.pos], "big")

    def u32(self):
        self.pos += 4
        return int.from_bytes(self.buf[self.pos - 4:self.pos], "big")

    def varint(self):
        v, self.pos = decode_varint(self.buf, self.pos)
        return v

    def bin(self):
        n = self.u16()
        self.pos += n
        return bytes(self.buf[self.pos - n:self.pos])

    def str(self):
        return self.bin().decode("utf-8")

    def pair(self):
        return (self.str(), self.str())

    def left(self):
        return len(self.buf) - self.pos

    def props(self):
        n = self.varint()
        end = self.pos + n
        out = []
        while self.pos < end:
            pid = self.varint()
            name, kind = PROPS[pid]
            val = getattr(self, kind)()
            if kind == "str":
                val = "`%s`" % val
            elif kind == "bin":
                val = "`%s` (binary)" % val.decode("latin-1")
            elif kind == "pair":
                val = "`%s`=`%s`" % val
            out.append("%s %s" % (name, val))
        assert self.pos == end, "property length mismatch"
        return n, out


def fmt_props(label, n, items):
    if n == 0:
        return "%s: none (length 0)" % label
    return "%s (length %d, in order): %s" % (label, n, "; ".join(items))


def describe(pkt, ver):
    ptype, flags, body = split_packet(pkt)
    r = Reader(body)
    v5 = ver == "v5"
    name = TYPE_NAMES[ptype]
    d = []
    if ptype == 1:
        proto = r.str()
        level = r.byte()
        cf = r.byte()
        ka = r.u16()
        d.append("protocol `%s` level %d, flags 0x%02x" % (proto, level, cf))
        cp = fmt_props("connect properties", *r.props()) if level == 5 else None
        d.append("client id `%s`" % r.str())
        d.append("clean %s %d" % ("start" if level == 5 else "session", (cf >> 1) & 1))
        d.append("keep alive %d" % ka)
        if cf & 0x04:
            wp = fmt_props("will properties", *r.props()) if level == 5 else None
            wt, wpl = r.str(), r.bin()
            d.append("will topic `%s` payload `%s` qos %d retain %d"
                     % (wt, wpl.decode(), (cf >> 3) & 3, (cf >> 5) & 1))
            if wp:
                d.append(wp)
        else:
            d.append("no will")
        if cf & 0x80:
            d.append("username `%s`" % r.str())
        if cf & 0x40:
            d.append("password `%s`" % r.bin().decode())
        if cp:
            d.append(cp)
    elif ptype == 3:
        qos = (flags >> 1) & 3
        d.append("dup %d qos %d retain %d" % (flags >> 3, qos, flags & 1))
        d.append("topic `%s`" % r.str())
        if qos:
            d.append("packet id %d" % r.u16())
        if v5:
            d.append(fmt_props("properties", *r.props()))
        d.append("payload `%s` (%d bytes)" % (bytes(body[r.pos:]).decode(), r.left()))
        r.pos = len(body)
    elif ptype in (4, 5, 6, 7):
        d.append("packet id %d" % r.u16())
        if r.left():
            d.append("reason code 0x%02x" % r.byte())
        elif v5:
            d.append("no reason code (remaining length 2, i.e. 0x00 Success implied)")
        if r.left():
            d.append(fmt_props("properties", *r.props()))
    elif ptype in (8, 10):
        d.append("packet id %d" % r.u16())
        if v5:
            d.append(fmt_props("properties", *r.props()))
        subs = []
        while r.left():
            t = r.str()
            if ptype == 8:
                o = r.byte()
                s = "`%s` qos %d" % (t, o & 3)
                if v5:
                    s += " nl %d rap %d rh %d" % ((o >> 2) & 1, (o >> 3) & 1, (o >> 4) & 3)
                s += " (options byte 0x%02x)" % o
                subs.append(s)
            else:
                subs.append("`%s`" % t)
        d.append("filters: " + ", ".join(subs))
    elif ptype in (12, 13):
        d.append("empty")
    elif ptype == 14:
        if not r.left():
            d.append("remaining length 0" + (" (reason 0x00 implied, no properties)" if v5 else ""))
        else:
            d.append("reason code 0x%02x" % r.byte())
            if r.left():
                d.append(fmt_props("properties", *r.props()))
    assert r.left() == 0, "trailing bytes"
    return "%s (header 0x%02x, remaining length %d, %d bytes total): %s" % (
        name, pkt[0], len(body), len(pkt), "; ".join(d))


def describe_all():
    for fn in sorted(os.listdir(FIXTURES)):
        if not fn.endswith(".hex"):
            continue
        ver = fn.split("-")[1]
        with open(os.path.join(FIXTURES, fn)) as f:
            pkt = bytes.fromhex(f.read().strip())
        print("%s\t%s" % (fn, describe(pkt, ver)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--describe":
        describe_all()
    else:
        sys.exit(capture(int(sys.argv[1]) if len(sys.argv) > 1 else 18830))
