#!/usr/bin/env bash
# Mosquitto and Starling side by side with large payloads: fan-in of 4 QoS 0 publishers to 1 subscriber,
# 16 KiB and 256 KiB (and 1 KiB for reference), with ../shared/tools/mqttload's compare.sh (A B A B A B, each
# broker started fresh and pinned to one core, the load generator on the other; medians). Prints the
# "Large payloads" table of BENCHMARKS.md.
#
#   Benchmarks/payload-scale.sh [--rounds N] [--sizes "1024 16384 262144"] [--starling PATH] [--results DIR]
#
# Both brokers have the limits of mqttload's mosquitto-bench.conf: 100,000 queued messages per client and
# Starling's default byte limit (`--max-queued-bytes`, 64 MiB; Mosquitto's `max_queued_bytes 0`). Every run has
# a bounded message count and mqttload's 60 s limit, and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
SIZES="1024 16384 262144"
STARLING=".build/release/starling"
RESULTS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --starling) STARLING=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "payload-scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -x "$STARLING" ] || { echo "payload-scale.sh: $STARLING not built (swift build -c release --product starling)" >&2; exit 2; }
STARLING=$(cd "$(dirname "$STARLING")" && pwd)/$(basename "$STARLING")
command -v mosquitto >/dev/null || { echo "payload-scale.sh: mosquitto not installed (apt-get install -y mosquitto)" >&2; exit 2; }

# The shared folder is read-only: the tool is built in a copy.
TOOLS=$(mktemp -d /tmp/payload-scale.XXXXXX)
trap 'rm -rf "$TOOLS"' EXIT
cp -r ../shared/tools/mqttload "$TOOLS/"
make -s -C "$TOOLS/mqttload" >/dev/null
[ -n "$RESULTS" ] || RESULTS="$TOOLS/results"
mkdir -p "$RESULTS"
MOSQUITTO_PORT=18850
STARLING_PORT=18851
sed "s/^listener 18832 /listener $MOSQUITTO_PORT /" "$TOOLS/mqttload/mosquitto-bench.conf" > "$TOOLS/mosquitto.conf"

# Messages per publisher: about 1.6 GB in all per run at every size, at most 250,000.
count_for() { local n=$((400000000 / $1)); [ $n -gt 250000 ] && n=250000; echo $n; }
label_for() { case "$1" in 262144) echo "256 KiB" ;; 16384) echo "16 KiB" ;; 1024) echo "1 KiB" ;; *) echo "$1 B" ;; esac; }
# The median of the numbers on stdin.
median() { sort -g | awk 'NF{v[++n]=$1} END{ if (!n) {print "NA"; exit} if (n%2) print v[(n+1)/2]; else print (v[n/2]+v[n/2+1])/2 }'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

echo "| payload | Mosquitto msg/s | Starling msg/s | ratio | lost by Mosquitto | lost by Starling | Starling MB/s |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  log="$RESULTS/fanin4-$size.log"
  "$TOOLS/mqttload/compare.sh" --rounds "$ROUNDS" --keep-logs "$RESULTS/fanin4-$size" \
    "cmd:$MOSQUITTO_PORT:mosquitto -c $TOOLS/mosquitto.conf" \
    "cmd:$STARLING_PORT:$STARLING serve --port $STARLING_PORT --host 127.0.0.1 --memory --threads 1 --max-queued 100000 --sys-interval 0" \
    -- --scenario fanin --pubs 4 --qos 0 --size "$size" --count "$(count_for "$size")" > "$log" 2>&1 || true
  results="$RESULTS/fanin4-$size/results.txt"
  a=$(grep '^A' "$results" | field msgs_per_s | median)
  b=$(grep '^B' "$results" | field msgs_per_s | median)
  lost_a=$(grep '^A' "$results" | field lost | paste -sd/ -)
  lost_b=$(grep '^B' "$results" | field lost | paste -sd/ -)
  ratio=$(tail -1 "$log" | sed -n 's/.*: \([0-9.NA]*\) (B\/A.*/\1/p')
  mbs=$(awk -v m="$b" -v s="$size" 'BEGIN{ if (m=="NA") print "NA"; else printf "%.0f", m*s/1e6 }')
  round() { awk -v v="$1" 'BEGIN{ if (v=="NA"||v=="") print "NA"; else printf "%.0f", v }'; }
  echo "| $(label_for "$size") | $(round "$a") | $(round "$b") | ${ratio:-NA}× | $lost_a | $lost_b | $mbs |"
done
echo
echo "Medians of $ROUNDS rounds; lost per round. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). Raw results: $RESULTS"
