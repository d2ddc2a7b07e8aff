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
source "$(dirname "$0")/cluster-lib.sh"
start_cluster_nodes starling_bench
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
