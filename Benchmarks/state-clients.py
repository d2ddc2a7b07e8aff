#!/usr/bin/env python3
"""Memory per subscription with many clients: C clients (each its own connection) subscribe F filters each
(c/<client>/<k>, QoS 0, one SUBSCRIBE per client); RSS per subscription, connections included.

  state-clients.py C F PORT --pid PID --scale PATH/TO/scale.py

MQTT 3.1.1 on 127.0.0.1, reusing scale.py's packet helpers. Prints one JSON line.
"""
import importlib.util, json, struct, sys, time

a = sys.argv[1:]
clients, filters, port = int(a[0]), int(a[1]), int(a[2])
pid = int(a[a.index('--pid') + 1])
spec = importlib.util.spec_from_file_location('scale', a[a.index('--scale') + 1])
scale = importlib.util.module_from_spec(spec); spec.loader.exec_module(scale)

r0 = scale.rss_kb(pid)
sockets = []
t0 = time.perf_counter()
for c in range(clients):
    s = scale.connect(port, 'state-%06d' % c)
    body = struct.pack('>H', 1) + b''.join(scale.s16(b'c/%06d/%d' % (c, k)) + b'\x00' for k in range(filters))
    s.sendall(bytes([0x82]) + scale.rl(len(body)) + body)
    ack = scale.recvn(s, 4 + filters)
    assert ack[0] == 0x90 and set(ack[4:]) <= {0}, 'subscription refused'
    sockets.append(s)
elapsed = time.perf_counter() - t0
time.sleep(1.0)
r1 = scale.rss_kb(pid)
print(json.dumps(dict(test='clients', clients=clients, filters_per_client=filters,
                      rss_per_sub_B=round((r1 - r0) * 1024 / (clients * filters)),
                      rss_per_client_B=round((r1 - r0) * 1024 / clients),
                      subscribe_filters_per_s=round(clients * filters / elapsed))))
for s in sockets: s.close()
