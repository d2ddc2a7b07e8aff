# starling.example.yaml as a real deployment: a broker of its own, started from the example with its ports made
# free, its hosts 127.0.0.1 and certificates made here by openssl, then real clients on every listener:
# mosquitto over TLS with a client certificate (and without one: refused), paho-mqtt and MQTT.js over ws:// and
# wss://, a PROXY protocol v2 header from Python.
#
#   bash listeners.sh PATH_TO_STARLING PATH_TO_EXAMPLE_YAML
#
# Prints `PASS listeners/name` or `FAIL listeners/name: reason` per check; exits 1 if any failed.
set -uo pipefail
STARLING=$(realpath "$1")
EXAMPLE=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/starling-listeners.XXXXXX")
BROKER_PID=""
cleanup() {
  if [[ -n "$BROKER_PID" ]]; then
    kill -KILL "$BROKER_PID" 2>/dev/null
    wait "$BROKER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
FAILED=0
report() {
  local name=$1
  shift
  local out="$WORK/check.out" status
  timeout -k 5 30 "$@" >"$out" 2>&1 </dev/null
  status=$?
  if ((status == 0)); then
    echo "PASS listeners/$name"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL listeners/$name: $(grep -v '^\s*$' "$out" | tail -n 1 || echo "exit status $status")"
  fi
}
die() {
  echo "FAIL listeners/setup: $*"
  exit 1
}

# Certificates: a CA, the broker's certificate for 127.0.0.1 and a device certificate with CN=device-1.
cd "$WORK" || exit 1
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
{
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 2 -subj "/CN=Starling Interop CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
    printf 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext &&
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext &&
    openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 2 -extfile server.ext -out server.crt &&
    openssl req "${ec[@]}" -keyout device.key -out device.csr -subj /CN=device-1 &&
    openssl x509 -req -in device.csr -CA ca.crt -CAkey ca.key -set_serial 3 -days 2 -extfile client.ext -out device.crt
} >openssl.log 2>&1 || die "openssl: $(tail -n 1 openssl.log)"

# The example, for this machine: every listener on 127.0.0.1 and a free port, the certificates above.
python3 - "$EXAMPLE" "$WORK" "$HERE" >ports.env 2>&1 <<'PY' || die "cannot rewrite the example: $(tail -n 1 ports.env)"
import sys, yaml
sys.path.insert(0, sys.argv[3])
from free_ports import free_ports
example, work = sys.argv[1], sys.argv[2]
config = yaml.safe_load(open(example))
ports = free_ports(len(config["listeners"]))
for (name, listener), port in zip(config["listeners"].items(), ports):
    listener["host"] = "127.0.0.1"
    listener["port"] = port
    print(f"PORT_{name.upper().replace('-', '_')}={port}")
    tls = listener.get("tls", {})
    for key, file in (("certificate", "server.crt"), ("key", "server.key"), ("ca", "ca.crt")):
        if key in tls:
            tls[key] = f"{work}/{file}"
config["log_level"] = "info"
yaml.safe_dump(config, open(f"{work}/starling.yaml", "w"))
PY
source ports.env

"$STARLING" --config "$WORK/starling.yaml" --memory >broker.log 2>&1 &
BROKER_PID=$!
accepting() { timeout 2 bash -c ': </dev/tcp/127.0.0.1/$0' "$1" 2>/dev/null; }
for _ in $(seq 600); do
  accepting "$PORT_BEHIND_PROXY" && break
  kill -0 "$BROKER_PID" 2>/dev/null || die "starling exited: $(tail -n 3 broker.log | tr '\n' ' ')"
  sleep 0.05
done
accepting "$PORT_BEHIND_PROXY" || die "starling is not listening after 30 s: $(tail -n 3 broker.log | tr '\n' ' ')"

report mosquitto-tls-client-certificate bash "$HERE/listeners_mosquitto_tls.sh" "$PORT_DEVICES" "$WORK"
report mosquitto-tls-without-certificate-refused bash "$HERE/listeners_mosquitto_tls.sh" "$PORT_DEVICES" "$WORK" --refused
report paho-websocket python3 "$HERE/listeners_paho_websocket.py" --port "$PORT_LOCAL_WEB"
report paho-websocket-tls python3 "$HERE/listeners_paho_websocket.py" --port "$PORT_BROWSERS" --cafile "$WORK/ca.crt"
report mqttjs-websocket env NODE_PATH=/usr/share/nodejs node "$HERE/listeners_mqttjs.js" "ws://127.0.0.1:$PORT_LOCAL_WEB/mqtt"
report mqttjs-websocket-tls env NODE_PATH=/usr/share/nodejs node "$HERE/listeners_mqttjs.js" "wss://127.0.0.1:$PORT_BROWSERS/mqtt" "$WORK/ca.crt"
report proxy-protocol-v2 python3 "$HERE/listeners_proxy_protocol.py" --port "$PORT_BEHIND_PROXY" --log "$WORK/broker.log"
report configuration-precedence-and-errors bash "$HERE/listeners_configuration.sh" "$STARLING"
report plain-local bash -c "mosquitto_pub -h 127.0.0.1 -p $PORT_LOCAL -t interop/listeners/local -m hi -q 1"

kill -TERM "$BROKER_PID"
if wait "$BROKER_PID"; then echo "PASS listeners/sigterm"; else FAILED=$((FAILED + 1)); echo "FAIL listeners/sigterm: exit status $?"; fi
BROKER_PID=""

# The same deployment with the example's password_file and acl_file keys set: TLS and WebSocket listeners
# with passwords and an ACL. A client without the right credentials gets nothing.
"$STARLING" passwd -c -b "$WORK/passwords" alice alice-secret >/dev/null || die "starling passwd failed"
printf 'user alice\ntopic readwrite alice/#\n' >"$WORK/acl"
python3 - "$WORK" <<'PY' || die "cannot add the password and ACL files to the configuration"
import sys, yaml
work = sys.argv[1]
config = yaml.safe_load(open(f"{work}/starling.yaml"))
config["password_file"] = f"{work}/passwords"
config["acl_file"] = f"{work}/acl"
yaml.safe_dump(config, open(f"{work}/starling.yaml", "w"))
PY
"$STARLING" --config "$WORK/starling.yaml" --memory >broker-secured.log 2>&1 &
BROKER_PID=$!
for _ in $(seq 600); do
  accepting "$PORT_LOCAL_WEB" && break
  kill -0 "$BROKER_PID" 2>/dev/null || die "secured starling exited: $(tail -n 3 broker-secured.log | tr '\n' ' ')"
  sleep 0.05
done
report secured/paho-websocket-tls-with-password python3 "$HERE/listeners_paho_websocket.py" --port "$PORT_BROWSERS" \
  --cafile "$WORK/ca.crt" --username alice --password alice-secret --topic "alice/paho-$RANDOM"
report secured/mqttjs-websocket-with-password env NODE_PATH=/usr/share/nodejs MQTT_USERNAME=alice \
  MQTT_PASSWORD=alice-secret MQTT_TOPIC_PREFIX=alice/mqttjs- node "$HERE/listeners_mqttjs.js" "ws://127.0.0.1:$PORT_LOCAL_WEB/mqtt"
report secured/anonymous-refused python3 "$HERE/listeners_paho_websocket.py" --port "$PORT_LOCAL_WEB" --expect-refused
report secured/wrong-password-refused python3 "$HERE/listeners_paho_websocket.py" --port "$PORT_BROWSERS" \
  --cafile "$WORK/ca.crt" --username alice --password wrong --expect-refused
report secured/topic-outside-acl-refused python3 "$HERE/listeners_paho_websocket.py" --port "$PORT_LOCAL_WEB" \
  --username alice --password alice-secret --topic "bob/secret" --expect-refused
report secured/mosquitto-with-password bash -c "mosquitto_pub -h 127.0.0.1 -p $PORT_LOCAL -u alice -P alice-secret \
  -t alice/plain -m hi -q 1 && ! mosquitto_pub -h 127.0.0.1 -p $PORT_LOCAL -t alice/plain -m hi -q 1 2>/dev/null"
kill -TERM "$BROKER_PID"
wait "$BROKER_PID"
BROKER_PID=""
if ((FAILED > 0)); then
  echo "-- broker output (last 20 lines):"
  tail -n 20 "$WORK/broker.log"
fi
((FAILED == 0))
