#!/usr/bin/env bash
# Messages per second through a bridge: a publisher on an edge Starling, the edge bridging `bench/#` out to a
# remote (a second Starling, or Debian's mosquitto), a subscriber on the remote. The load is the C generator of
# ../shared/tools/mqttload (`--only pub` at the edge, `--only sub` at the remote); every message is counted,
# lost or duplicated ones too.
#
#   bash Benchmarks/bridge-throughput.sh [starling|mosquitto] [COUNT] [RUNS]
#
# STARLING names a release `starling` (else it is built); MQTTLOAD the generator (else it is built in /tmp).
# Everything listens on 127.0.0.1 and stops by itself; prints one line per QoS and run.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=100
source Benchmarks/lib.sh
remote_kind=${1:-starling}
count=${2:-100000}
runs=${3:-3}
require_starling
if [ -z "${MQTTLOAD:-}" ]; then
  [ -x /tmp/mqttload/mqttload ] || { cp -r ../shared/tools/mqttload /tmp/mqttload && make -C /tmp/mqttload >/dev/null; }
  MQTTLOAD=/tmp/mqttload/mqttload
fi
make_folders starling-bridge
{ read -r edge_port; read -r remote_port; } < <(python3 Tests/Interop/free_ports.py 2)
pids=()
cleanup_all() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; cleanup; }
trap cleanup_all EXIT

if [ "$remote_kind" = mosquitto ]; then
  require_mosquitto
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$remote_port" >"$WORK/mosquitto.conf"
  timeout 600 "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/remote.log" 2>&1 &
else
  timeout 600 "$STARLING" --memory --host 127.0.0.1 --port "$remote_port" --sys-interval 0 >"$WORK/remote.log" 2>&1 &
fi
pids+=($!)
cat >"$WORK/edge.yaml" <<YAML
listeners:
  default: {host: 127.0.0.1, port: $edge_port}
sys_interval: 0
bridges:
  remote:
    addresses: [mqtt://127.0.0.1:$remote_port]
    protocol_version: "$([ "$remote_kind" = mosquitto ] && echo 3.1.1 || echo 5)"
    topics: [{pattern: "bench/#", direction: out, qos: 1}]
YAML
timeout 600 "$STARLING" --memory --config "$WORK/edge.yaml" >"$WORK/edge.log" 2>&1 &
pids+=($!)
# Up once the bridge says so.
for _ in $(seq 1 100); do
  state=$(timeout 2 mosquitto_sub -p "$edge_port" -t '$SYS/broker/connection/remote/state' -C 1 -W 1 2>/dev/null || true)
  [ "$state" = 1 ] && break
  sleep 0.1
done
[ "$state" = 1 ] || { echo "the bridge did not come up" >&2; cat "$WORK/edge.log" >&2; exit 1; }

for qos in 0 1; do
  for run in $(seq 1 "$runs"); do
    "$MQTTLOAD" --only sub --port "$remote_port" --scenario fanin --pubs 1 --qos "$qos" --count "$count" --drain 5 --timeout 120 \
      >"$WORK/sub.out" 2>&1 &
    sub=$!
    sleep 0.5
    "$MQTTLOAD" --only pub --port "$edge_port" --scenario fanin --pubs 1 --qos "$qos" --count "$count" --timeout 120 >"$WORK/pub.out" 2>&1
    wait "$sub" || true
    line=$(grep -o 'received=[0-9]* lost=[0-9]* dup=[0-9]*' "$WORK/sub.out" || echo "no result")
    rate=$(grep -o ' msgs_per_s=[0-9]*' "$WORK/sub.out" | tr -d ' ' || true)
    echo "remote=$remote_kind qos=$qos run=$run $line $rate" | tee -a "$RESULTS/bridge.txt"
  done
done
echo "results: $RESULTS/bridge.txt"
