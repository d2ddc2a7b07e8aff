"""starling pub/sub against mosquitto_pub/mosquitto_sub: the same options, the same behaviour.

Starts a Mosquitto of its own (a TCP listener, a Unix socket listener, a TLS-PSK listener and a TLS listener with a
certificate made here by openssl) and a minimal SOCKS5 proxy, then runs each mosquitto 2.0 option that starling
also takes with both tools and compares what they do: the -d packet traces line for line, --remove-retained,
--pretty, --random-filter, --unix, --proxy, -A, --nodelay, -M, -D publish topic-alias, -D subscribe
subscription-identifier, --capath, --tls-version, --ciphers, --tls-alpn, --psk. Everything on 127.0.0.1, every
process bounded by a timeout.

    python3 cli_parity.py --starling PATH
"""

import argparse
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from free_ports import free_ports  # noqa: E402

FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print(f"  not the same: {what}", flush=True)


def run(command, timeout=10, stdin=None):
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


class Socks5Proxy(threading.Thread):
    """RFC 1928 without authentication, CONNECT only, to 127.0.0.1 targets; counts the tunnels it made."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.tunnels = 0

    def run(self):
        while True:
            client, _ = self.listener.accept()
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        try:
            version, methods = client.recv(2)
            client.recv(methods)
            client.sendall(b"\x05\x00")
            _, command, _, kind = client.recv(4)
            if kind == 3:
                host = client.recv(client.recv(1)[0]).decode()
            elif kind == 1:
                host = socket.inet_ntoa(client.recv(4))
            else:
                return client.close()
            (port,) = struct.unpack("!H", client.recv(2))
            if command != 1 or host not in ("127.0.0.1", "localhost"):
                client.sendall(b"\x05\x02\x00\x01" + bytes(6))
                return client.close()
            upstream = socket.create_connection(("127.0.0.1", port))
            self.tunnels += 1
            client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))
            sockets = [client, upstream]
            while True:
                readable, _, _ = select.select(sockets, [], [], 15)
                if not readable:
                    break
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    (upstream if source is client else client).sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            client.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--starling", required=True)
    args = parser.parse_args()
    starling = os.path.abspath(args.starling)
    work = tempfile.mkdtemp(prefix="starling-cli-parity.")
    port, psk_port, tls_port, proxy_port = free_ports(4)
    unix_path = os.path.join(work, "mosquitto.sock")

    # A CA and a server certificate for localhost, and a capath folder holding the CA.
    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{work}/ca.key", "-out", f"{work}/ca.crt",
            "-days", "2", "-subj", "/CN=parity CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{work}/server.key", "-out", f"{work}/server.csr",
            "-subj", "/CN=localhost")
    with open(f"{work}/ext.cnf", "w") as ext:
        ext.write("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", f"{work}/server.csr", "-CA", f"{work}/ca.crt", "-CAkey", f"{work}/ca.key",
            "-CAcreateserial", "-out", f"{work}/server.crt", "-days", "2", "-extfile", f"{work}/ext.cnf")
    os.makedirs(f"{work}/other")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{work}/other/other.key", "-out",
            f"{work}/other/other.pem", "-days", "2", "-subj", "/CN=another CA")
    os.remove(f"{work}/other/other.key")
    subprocess.run(["openssl", "rehash", f"{work}/other"], capture_output=True, timeout=30)
    os.makedirs(f"{work}/capath")
    shutil.copy(f"{work}/ca.crt", f"{work}/capath/ca.pem")
    subprocess.run(["openssl", "rehash", f"{work}/capath"], capture_output=True, timeout=30)
    with open(f"{work}/psk.txt", "w") as psk:
        psk.write("parity:00112233445566778899aabbccddeeff\n")
    with open(f"{work}/mosquitto.conf", "w") as conf:
        conf.write(f"""per_listener_settings false
allow_anonymous true
listener {port} 127.0.0.1
listener 0 {unix_path}
listener {psk_port} 127.0.0.1
psk_hint parity
listener {tls_port} 127.0.0.1
cafile {work}/ca.crt
certfile {work}/server.crt
keyfile {work}/server.key
psk_file {work}/psk.txt
""")
    # Mosquitto started as root reads its files as the mosquitto user.
    for folder, _, files in os.walk(work):
        os.chmod(folder, 0o755)
        for file in files:
            os.chmod(os.path.join(folder, file), 0o644)
    os.chmod(work, 0o777)  # where it makes its Unix socket
    broker = subprocess.Popen(["timeout", "300", "mosquitto", "-c", f"{work}/mosquitto.conf"],
                              stdout=subprocess.DEVNULL, stderr=open(f"{work}/mosquitto.log", "w"))
    proxy = Socks5Proxy(proxy_port)
    proxy.start()
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("mosquitto did not start: " + open(f"{work}/mosquitto.log").read()[-300:])
                time.sleep(0.05)
        compare(starling, port, psk_port, tls_port, proxy, unix_path, work)
    finally:
        # SIGTERM, which `timeout` passes on to mosquitto; a SIGKILL would end `timeout` alone and leave it running.
        broker.terminate()
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} differences; the first: {FAILURES[0]}")
        sys.exit(1)
    print("starling pub/sub behave as mosquitto_pub/mosquitto_sub in every comparison")


def tools(starling):
    return {"mosquitto": (["mosquitto_pub"], ["mosquitto_sub"]), "starling": ([starling, "pub"], [starling, "sub"])}


def normalized_trace(output, client_id):
    # Mosquitto numbers even a QoS 0 PUBLISH it sends (m1); a QoS 0 PUBLISH has no packet identifier on the wire.
    lines = [re.sub(r"^(Client \S+ sending PUBLISH \(d0, q0, r\d, )m\d+", r"\1m0", line) for line in output.splitlines()]
    return [line.replace(client_id, "ID") for line in lines]


def compare(starling, port, psk_port, tls_port, proxy, unix_path, work):
    base = ["-h", "127.0.0.1", "-p", str(port)]

    print("-d: the trace of a publish at each QoS, and of a subscriber receiving QoS 1", flush=True)
    for qos in ("0", "1", "2"):
        traces = {}
        for name, (pub, _) in tools(starling).items():
            status, out, err = run(pub + base + ["-d", "-i", f"trace-{name}", "-t", "parity/trace", "-m", "hello",
                                                 "-q", qos, "-r"])
            check(status == 0, f"{name} pub -d -q {qos} exited {status}: {err.strip()}")
            traces[name] = normalized_trace(out, f"trace-{name}")
        check(len(traces["mosquitto"]) >= 4 and traces["starling"] == traces["mosquitto"], f"pub -d -q {qos}: {traces}")
    traces = {}
    for name, (pub, sub) in tools(starling).items():
        subscriber = subprocess.Popen(sub + base + ["-d", "-i", f"subtrace-{name}", "-t", "parity/sub-trace", "-q", "1",
                                                    "-C", "1", "-W", "10"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        run(["mosquitto_pub"] + base + ["-t", "parity/sub-trace", "-m", "one", "-q", "1"])
        out, _ = subscriber.communicate(timeout=15)
        lines = normalized_trace(out, f"subtrace-{name}")
        # The packets in order, and the messages printed: where a message's line falls among the packet lines is a
        # matter of threads in starling (the acknowledgement goes out as the message is handed to the printer).
        packets = [line for line in lines if line.startswith(("Client ", "Subscribed "))]
        traces[name] = (packets, [line for line in lines if line not in packets])
    check(len(traces["mosquitto"][0]) >= 7 and traces["starling"] == traces["mosquitto"], f"sub -d: {traces}")

    print("--remove-retained clears what it receives; -T keeps a topic's", flush=True)
    for name, (pub, sub) in tools(starling).items():
        for topic in ("a", "b", "keep"):
            run(["mosquitto_pub"] + base + ["-t", f"parity/{name}/rr/{topic}", "-m", "kept", "-r", "-q", "1"])
        status, out, _ = run(sub + base + ["-t", f"parity/{name}/rr/#", "--remove-retained", "-T", f"parity/{name}/rr/keep",
                                           "-C", "2", "-W", "5"])
        # mosquitto_sub 2.0.11 does not stop at -C while its clearing publishes are in flight, and runs into -W.
        check(status == 0 or name == "mosquitto", f"{name} sub --remove-retained exited {status}")
        time.sleep(0.3)
        _, left, _ = run(["mosquitto_sub"] + base + ["-t", f"parity/{name}/rr/#", "--retained-only", "-v", "-W", "1"])
        check(left.split() == [f"parity/{name}/rr/keep", "kept"], f"{name}: after --remove-retained, left {left!r}")

    print("--pretty with -F %j: the same object, laid out over several lines", flush=True)
    outputs = {}
    for name, (pub, sub) in tools(starling).items():
        run(["mosquitto_pub"] + base + ["-t", f"parity/{name}/pretty", "-m", "hi", "-r"])
        status, out, _ = run(sub + base + ["-t", f"parity/{name}/pretty", "-F", "%j", "--pretty", "-C", "1", "-W", "5"])
        check(status == 0 and out.count("\n") > 3, f"{name} --pretty printed {out!r}")
        try:
            value = json.loads(out)
            value.pop("tst", None)
            value["topic"] = value["topic"].replace(name, "TOOL")
            outputs[name] = value
        except ValueError:
            check(False, f"{name} --pretty output is not JSON: {out!r}")
    check(outputs.get("starling") == outputs.get("mosquitto"), f"--pretty objects: {outputs}")

    print("--random-filter 100 prints all, 1 a few of 200", flush=True)
    for name, (pub, sub) in tools(starling).items():
        for percent, low, high in (("100", 200, 200), ("1", 0, 20)):
            topic = f"parity/{name}/random/{percent}"
            subscriber = subprocess.Popen(sub + base + ["-t", topic, "-q", "1", "--random-filter", percent, "-W", "4"],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(0.5)
            run(["mosquitto_pub"] + base + ["-t", topic, "-q", "1", "-l"], stdin="".join(f"m{i}\n" for i in range(200)))
            out, _ = subscriber.communicate(timeout=10)
            count = len(out.splitlines())
            # mosquitto_sub 2.0.11 prints about a tenth of what its --help promises (about 20 of 200 at 100 %); its
            # option is only checked to be taken. starling prints what the help says.
            if name == "mosquitto":
                check(subscriber.returncode == 27, f"mosquitto --random-filter {percent} exited {subscriber.returncode}")
            else:
                check(low <= count <= high, f"{name} --random-filter {percent}: printed {count} of 200")

    print("--unix, --proxy, -A, --nodelay, -M, -D publish topic-alias, -D subscribe subscription-identifier", flush=True)
    ways = [
        ("--unix", ["--unix", unix_path], ["--unix", unix_path]),
        ("--proxy", ["-h", "localhost", "-p", str(port), "--proxy", f"socks5h://127.0.0.1:{proxy.listener.getsockname()[1]}"], base),
        ("-A --nodelay -M 1", base + ["-A", "127.0.0.1", "--nodelay", "-M", "1"], base),
        ("-D topic-alias / subscription-identifier", base + ["-V", "5", "-D", "publish", "topic-alias", "1"],
         base + ["-V", "5", "-D", "subscribe", "subscription-identifier", "7"]),
    ]
    for label, pub_options, sub_options in ways:
        for name, (pub, sub) in tools(starling).items():
            topic = f"parity/{name}/ways/{len(label)}"
            tunnels = proxy.tunnels
            subscriber = subprocess.Popen(sub + sub_options + ["-t", topic, "-q", "1", "-C", "3", "-W", "8"],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)
            status, _, err = run(pub + pub_options + ["-t", topic, "-q", "1", "-l"], stdin="x\ny\nz\n")
            out, sub_err = subscriber.communicate(timeout=12)
            check(status == 0 and out.split() == ["x", "y", "z"],
                  f"{name} {label}: pub exited {status} ({err.strip()}), sub printed {out!r} ({sub_err.strip()})")
            if label == "--proxy":
                check(proxy.tunnels == tunnels + 1, f"{name} --proxy: {proxy.tunnels - tunnels} tunnels through the proxy")

    print("TLS: --capath, --tls-version, --ciphers, --tls-alpn; TLS-PSK: --psk, --psk-identity", flush=True)
    tls = ["-h", "localhost", "-p", str(tls_port)]
    psk = ["-h", "127.0.0.1", "-p", str(psk_port), "--psk", "00112233445566778899aabbccddeeff", "--psk-identity", "parity"]
    cases = [
        ("--capath", tls + ["--capath", f"{work}/capath"], True),
        ("--cafile --tls-version tlsv1.2 --ciphers", tls + ["--cafile", f"{work}/ca.crt", "--tls-version", "tlsv1.2",
                                                            "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"], True),
        ("--cafile --tls-version tlsv1.3 --tls-alpn", tls + ["--cafile", f"{work}/ca.crt", "--tls-version", "tlsv1.3",
                                                             "--tls-alpn", "mqtt"], True),
        ("--psk", psk, True),
        ("a wrong --psk", ["-h", "127.0.0.1", "-p", str(psk_port), "--psk", "0f0f", "--psk-identity", "parity"], False),
        ("a --capath without the broker's CA", tls + ["--capath", f"{work}/other"], False),
    ]
    for label, options, succeeds in cases:
        outcomes = {}
        for name, (pub, _) in tools(starling).items():
            status, _, err = run(pub + options + ["-t", f"parity/{name}/tls", "-m", "secret", "-q", "1"])
            outcomes[name] = status == 0
        check(outcomes["starling"] == outcomes["mosquitto"] == succeeds, f"{label}: succeeded {outcomes}, expected {succeeds}")

    print("bad arguments: both refuse (mosquitto exits 1, starling 64)", flush=True)
    for arguments in (["-t", "a", "-m", "b", "-q", "3"], ["-t", "a", "-m", "b", "--no-such-option"]):
        statuses = {name: run(pub + base + arguments)[0] for name, (pub, _) in tools(starling).items()}
        check(statuses == {"mosquitto": 1, "starling": 64}, f"{arguments}: exit statuses {statuses}")


if __name__ == "__main__":
    main()
