#!/usr/bin/env bash
# Session take-over across nodes while the link carries QoS 1 traffic: two `starling` nodes on a new database of
# the PostgreSQL server named by STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start), 4 mqttload
# publishers on node A sending QoS 1 at RATE msg/s each (40 s worth) to a subscriber on node B, and meanwhile
# 200 take-overs of a session with 10 subscriptions (cluster-takeover.py). Prints the take-over percentiles and
# the traffic's counts (lost, duplicated).
#
#   bash Benchmarks/cluster-takeover-load.sh PATH_TO_STARLING PATH_TO_MQTTLOAD [RATE]
set -euo pipefail
STARLING=$(realpath "$1")
MQTTLOAD=$(realpath "$2")
RATE=${3:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/cluster-lib.sh"
start_cluster_nodes starling_takeover
COUNT=$((RATE * 40))
timeout 120 "$MQTTLOAD" --scenario fanin --port "$B" --only sub --pubs 4 --qos 1 --count $((COUNT * 4)) --prefix load \
  --timeout 100 --drain 5 >"$WORK/sub.txt" 2>&1 &
sub=$!
register $sub
sleep 3   # the subscription reaches node A's routes within a heartbeat
timeout 120 "$MQTTLOAD" --scenario fanin --port "$A" --only pub --pubs 4 --qos 1 --count "$COUNT" --rate "$RATE" \
  --prefix load --timeout 100 >"$WORK/pub.txt" 2>&1 &
pub=$!
register $pub
sleep 3
timeout 100 python3 "$HERE/cluster-takeover.py" "127.0.0.1:$A" "127.0.0.1:$B" 200 10
wait "$pub" || true
wait "$sub" || true
echo "traffic: $(grep -o 'received=[0-9]*\|lost=[0-9]*\|dup=[0-9]*' "$WORK/sub.txt" | tr '\n' ' ')"
