#!/usr/bin/env bash
# How memory and routing cost grow with what a broker holds: Mosquitto and Starling side by side, each freshly
# started for every run and pinned to one core, the load (../shared/tools/scale/scale.py, state-clients.py) on
# the other, the same tests against each in alternation (A B A B A B), medians.
#
#   Benchmarks/state-scale.sh [--rounds N] [--tests "subs1k subs100k ..."] [--brokers "mosquitto starling"] [--messages N]
#                             [--starling PATH] [--results DIR] [--list]
#
# Tests: subscriptions on one connection (s/0000000… exact, w/0000000/+ wildcard) with RSS per subscription and
# deliveries/s of 200,000 QoS 0 messages to random matching topics; 10,000 clients with 10 filters each;
# retained messages (32 B) with RSS per message and a new r/# subscriber's rate; 1,000,000 retained messages
# stored by Starling with its default SQLite store (Mosquitto in memory, as in the other retained tests).
# Starling runs with --memory --threads 1 (but for the SQLite test), Mosquitto with persistence false and
# max_queued_messages 100000, Starling with --max-queued 100000. Every broker and run is under `timeout`, so the
# whole run stops by itself (a full run takes about 25 minutes, most of it Mosquitto subscribing 1,000,000 filters).
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/lib.sh

ROUNDS=3
# Messages published in the delivery tests: at a million deliveries a second, 200,000 is a window of 0.2 s, in
# which the first lookups' cache and TLB misses weigh more than in the steady state.
MESSAGES=200000
TESTS="subs1k subs100k subs1m wild100k clients10k retained100k retained1m retained1m_sqlite"
BROKERS="mosquitto starling"
STARLING=""
RESULTS=""
SCALE_PY=${SCALE_PY:-../shared/tools/scale/scale.py}
BROKER_CORE=1
LOADGEN_CORE=0
MOSQUITTO_PORT=18840
STARLING_PORT=18841

test_args() { # the load's command line, without port and pid
  case "$1" in
    subs1k) echo "scale subs 1000 --msgs $MESSAGES" ;;
    subs100k) echo "scale subs 100000 --msgs $MESSAGES" ;;
    subs1m) echo "scale subs 1000000 --msgs $MESSAGES" ;;
    wild100k) echo "scale subs 100000 --wild --msgs $MESSAGES" ;;
    clients10k) echo "clients 10000 10" ;;
    retained100k) echo "scale retained 100000" ;;
    retained1m|retained1m_sqlite) echo "scale retained 1000000" ;;
    *) return 1 ;;
  esac
}

while (($#)); do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --messages) MESSAGES=$2; shift 2 ;;
    --tests) TESTS=$2; shift 2 ;;
    --brokers) BROKERS=$2; shift 2 ;;
    --starling) STARLING=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    --list) for t in subs1k subs100k subs1m wild100k clients10k retained100k retained1m retained1m_sqlite; do
              printf '%-18s %s\n' "$t" "$(test_args "$t")"; done; exit 0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

require_mosquitto
[ -f "$SCALE_PY" ] || { echo "scale.py not found at $SCALE_PY (set SCALE_PY)" >&2; exit 1; }
require_starling
make_folders state-scale

cat >"$WORK/mosquitto.conf" <<CONF
listener $MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 100000
max_connections -1
set_tcp_nodelay true
log_dest stderr
log_type error
CONF

wait_for_port() {
  for _ in $(seq 1 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "broker did not listen on $1" >&2; return 1
}

# start_broker mosquitto|starling TEST ROUND → BROKER_PID (timeout's), MEMORY_PID (the broker's), PORT
start_broker() {
  case "$1" in
    mosquitto)
      PORT=$MOSQUITTO_PORT
      timeout 900 taskset -c "$BROKER_CORE" "$MOSQUITTO" -c "$WORK/mosquitto.conf" 2>>"$RESULTS/mosquitto.log" &
      ;;
    starling)
      PORT=$STARLING_PORT
      local store="--memory"
      if [ "$2" = retained1m_sqlite ]; then store="--data-dir $WORK/data-$3"; fi
      # shellcheck disable=SC2086
      timeout 900 taskset -c "$BROKER_CORE" "$STARLING" serve --host 127.0.0.1 --port "$PORT" --threads 1 $store \
        --max-queued 100000 --max-subscriptions 2000000 --max-connections 100000 --max-sessions 1000000 --sys-interval 0 --log-level error \
        2>>"$RESULTS/starling.log" &
      ;;
  esac
  BROKER_PID=$!
  wait_for_port "$PORT"
  local child
  child=$(pgrep -P "$BROKER_PID" | head -1 || true)
  MEMORY_PID=${child:-$BROKER_PID}
}

stop_broker() {
  kill "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}

run_one() { # test broker round
  local test=$1 broker=$2 round=$3 out="$RESULTS/$1.$2.$3.json"
  local -a args load
  read -r -a args <<<"$(test_args "$test")"
  start_broker "$broker" "$test" "$round"
  if [ "${args[0]}" = clients ]; then
    load=(python3 Benchmarks/state-clients.py "${args[1]}" "${args[2]}" "$PORT" --pid "$MEMORY_PID" --scale "$SCALE_PY")
  else
    load=(python3 "$SCALE_PY" "${args[1]}" "${args[2]}" "$PORT" --pid "$MEMORY_PID" "${args[@]:3}")
  fi
  timeout 200 taskset -c "$LOADGEN_CORE" "${load[@]}" >"$out" 2>>"$RESULTS/load.log" || echo '{"failed": true}' >"$out"
  stop_broker
}

for round in $(seq 1 "$ROUNDS"); do
  for t in $TESTS; do
    for broker in $BROKERS; do
      [ "$t" = retained1m_sqlite ] && [ "$broker" = mosquitto ] && continue
      echo "round $round: $t on $broker" >&2
      run_one "$t" "$broker" "$round"
    done
  done
done

python3 - "$RESULTS" "$TESTS" <<'PY'
import glob, json, statistics, sys
results, tests = sys.argv[1], sys.argv[2].split()
fields = ['rss_per_sub_B', 'rss_per_client_B', 'rss_per_retained_B', 'subscribe_filters_per_s', 'deliveries_per_s',
          'store_msgs_per_s', 'deliver_msgs_per_s', 'delivered']
print('| test | broker | ' + ' | '.join(fields) + ' | runs |')
print('|---|---|' + '---:|' * (len(fields) + 1))
for t in tests:
    for broker in ['mosquitto', 'starling']:
        runs = [json.load(open(f)) for f in sorted(glob.glob(f'{results}/{t}.{broker}.*.json')) if open(f).read().strip()]
        if not runs: continue
        ok = [r for r in runs if not r.get('failed')]
        cells = []
        for f in fields:
            values = [r[f] for r in ok if r.get(f) is not None]
            cells.append(f'{round(statistics.median(values)):,}' if values else '—')
        print(f'| {t} | {broker} | ' + ' | '.join(cells) + f' | {len(ok)}/{len(runs)} |')
print(f'\nraw results: {results}')
PY
