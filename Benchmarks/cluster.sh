#!/usr/bin/env bash
# Cross-node throughput of a cluster on this machine: two `starling` nodes on a new database of the PostgreSQL
# server named by STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start), publishers (mqttload) on node A,
# one subscriber on node B, QoS 0 then QoS 1. Prints the subscriber's figures.
#
#   bash Benchmarks/cluster.sh PATH_TO_STARLING PATH_TO_MQTTLOAD [MESSAGES_PER_PUBLISHER]
set -euo pipefail
STARLING=$(realpath "$1")
MQTTLOAD=$(realpath "$2")
COUNT=${3:-100000}
SERVER=${STARLING_TEST_POSTGRES_URL:?needs STARLING_TEST_POSTGRES_URL}
DATABASE="starling_bench_$$"
psql -q -X "$SERVER" -c "CREATE DATABASE $DATABASE"
URL="${SERVER%/*}/$DATABASE"
WORK=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -X "$SERVER" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
A=$(free_port); B=$(free_port)
for node in "a:$A" "b:$B"; do
  timeout 600 "$STARLING" --host 127.0.0.1 --port "${node#*:}" --cluster "$URL" --node "${node%%:*}" --log-level warning \
    --max-queued 1000000 >"$WORK/${node%%:*}.log" 2>&1 &
  pids+=($!)
done
sleep 4
for qos in 0 1; do
  "$MQTTLOAD" --scenario fanin --port "$B" --only sub --pubs 4 --qos "$qos" --count $((COUNT * 4)) --prefix "x$qos" \
    --timeout 120 --drain 5 >"$WORK/sub$qos.txt" 2>&1 &
  sub=$!
  sleep 3   # the subscription reaches node A's routes within a heartbeat
  "$MQTTLOAD" --scenario fanin --port "$A" --only pub --pubs 4 --qos "$qos" --count "$COUNT" --prefix "x$qos" --timeout 120 \
    >"$WORK/pub$qos.txt" 2>&1
  wait "$sub" || true
  echo "QoS $qos, 4 publishers on node a, 1 subscriber on node b:"
  sed 's/^/  sub: /' "$WORK/sub$qos.txt" | tail -4
  sed 's/^/  pub: /' "$WORK/pub$qos.txt" | tail -2
done
