#!/usr/bin/env bash
# Mosquitto and Starling side by side on loopback, each broker pinned to one core and the load generator
# (`starling bench`) to the other, the same scenarios against each in alternation (A B A B A B), medians.
#
#   Benchmarks/compare.sh [--rounds N] [--scenarios "fanin10_q0 latency_q1 ..."] [--starling PATH]
#                         [--results DIR] [--scale PERCENT] [--scaling] [--list]
#
# --scale shrinks (or grows) every message count, for a quick look or a loaded machine; --scaling adds Starling
# unpinned on every core with as many threads.
#
# Every broker and every run is started with `timeout`, so the whole run stops by itself; the default run
# (12 scenarios, 3 rounds) takes about 14 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/lib.sh

ROUNDS=3
SCENARIOS="fanin10_q0 fanin10_q1 pairs10_q0 pairs10_q1 fanout100_q0 fanout1000_q0 latency_q1 conn10k conn19k conn19k_waves storm10k storm19k"
STARLING=""
RESULTS=""
SCALING=0
SCALE=100
BROKER_CORE=1
LOADGEN_CORE=0
MOSQUITTO_PORT=18830
STARLING_PORT=18831

# name | bench arguments: the shared scenarios (lib.sh) and those of this comparison.
scenario_args() {
  case "$1" in
    sharedsub10_q1) echo "sharedsub -P 10 -S 10 -q 1 -n $(n 20000)" ;;
    # A window of 64 handshakes; over plain TCP the bench opens these without SwiftNIO channels (35 µs of its
    # CPU per connection, as the C generator), so one core of it outpaces a broker on the other.
    conn10k) echo "conn -c 10000 --source-addresses 8 --connect-concurrency 64 -d 1" ;;
    conn19k) echo "conn -c 19000 --source-addresses 8 --connect-concurrency 64 -d 1" ;;
    # Two waves of 9,500: the second connects once the first has been idle for 30 s (long enough for any
    # connection of Starling's to hibernate), so it shows what a connection costs beside idle ones.
    conn19k_waves) echo "conn -c 9500 --source-addresses 8 --connect-concurrency 64 -d 1" ;;
    # The reconnect storm: persistent sessions with a subscription each drop their connections, a QoS 1 message
    # is published to them, and all reconnect at once, 64 handshakes in flight; time until each has its message.
    storm10k) echo "storm -c 10000 --source-addresses 8 --connect-concurrency 64" ;;
    storm19k) echo "storm -c 19000 --source-addresses 8 --connect-concurrency 64" ;;
    *) shared_scenario_args "$1" ;;
  esac
}

while (($#)); do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --starling) STARLING=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    --scaling) SCALING=1; shift ;;
    --scale) SCALE=$2; shift 2 ;;
    --list) for s in fanin10_q0 fanin10_q1 pairs10_q0 pairs10_q1 fanout100_q0 fanout1000_q0 sharedsub10_q1 latency_q1 conn10k conn19k conn19k_waves storm10k storm19k; do
              printf '%-16s %s\n' "$s" "$(scenario_args "$s")"; done; exit 0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for s in $SCENARIOS; do scenario_args "$s" >/dev/null || { echo "unknown scenario $s (see --list)" >&2; exit 2; }; done

require_mosquitto
command -v taskset >/dev/null || { echo "taskset not found (util-linux)" >&2; exit 1; }
require_starling
NCPU=$(nproc)
if ((NCPU < 2)); then BROKER_CORE=0; LOADGEN_CORE=0; fi

# Connections need descriptors on both sides; the hard limit is as far as a process may go.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
make_folders starling-compare

# Mosquitto without persistence and without the limits that would make it drop messages silently: unlimited
# queue and inflight per client, no memory limit. Nagle stays at Mosquitto's default (on), as Mosquitto ships
# and as the independent generator's baseline runs it.
cat >"$WORK/mosquitto.conf" <<CONF
listener $MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 10000000
max_queued_bytes 0
max_inflight_messages 0
max_inflight_bytes 0
memory_limit 0
max_connections -1
log_dest stderr
log_type error
CONF

wait_for_port() {
  local port=$1
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "broker did not listen on $port" >&2; return 1
}

# start_broker mosquitto|starling|starling2 → BROKER_PID, PORT
start_broker() {
  case "$1" in
    mosquitto)
      PORT=$MOSQUITTO_PORT
      timeout 900 taskset -c "$BROKER_CORE" "$MOSQUITTO" -c "$WORK/mosquitto.conf" 2>>"$RESULTS/mosquitto.log" &
      ;;
    starling|starling2)
      PORT=$STARLING_PORT
      local cores=$BROKER_CORE threads=1
      if [ "$1" = starling2 ]; then cores="0-$((NCPU - 1))"; threads=$NCPU; fi
      timeout 900 taskset -c "$cores" "$STARLING" serve --host 127.0.0.1 --port "$PORT" --threads "$threads" \
        --max-queued 1000000 --max-outbound-bytes 268435456 --max-inflight 1000 --max-connections 100000 \
        --max-sessions 1000000 --memory --sys-interval 0 --log-level error 2>>"$RESULTS/starling.log" &
      ;;
  esac
  BROKER_PID=$!
  wait_for_port "$PORT"
  # timeout forks; the broker is its child.
  local child
  child=$(pgrep -P "$BROKER_PID" | head -1 || true)
  BROKER_MEMORY_PID=${child:-$BROKER_PID}
}

stop_broker() {
  kill "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}

run_one() { # scenario broker round
  local scenario=$1 broker=$2 round=$3 out
  out="$RESULTS/$scenario.$broker.$round.json"
  start_broker "$broker"
  local loadgen_cores=$LOADGEN_CORE
  [ "$broker" = starling2 ] && loadgen_cores="0-$((NCPU - 1))"
  local first_wave="" rss_before=""
  if [ "$scenario" = conn19k_waves ]; then
    rss_before=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$BROKER_MEMORY_PID/status")
    # shellcheck disable=SC2046
    timeout 120 taskset -c "$loadgen_cores" "$STARLING" bench $(scenario_args "$scenario") -d 50 -p "$PORT" \
      --client-id "wave1-%i" --timeout 60 --json --no-progress >/dev/null 2>>"$RESULTS/bench.log" &
    first_wave=$!
    sleep 30
  fi
  # shellcheck disable=SC2046
  timeout 200 taskset -c "$loadgen_cores" "$STARLING" bench $(scenario_args "$scenario") -p "$PORT" \
    --broker-pid "$BROKER_MEMORY_PID" --timeout 150 --drain 5 --json --no-progress >"$out" 2>>"$RESULTS/bench.log" || true
  local rss_after=""
  if [ -n "$first_wave" ]; then
    rss_after=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$BROKER_MEMORY_PID/status")
    kill "$first_wave" 2>/dev/null || true
    wait "$first_wave" 2>/dev/null || true
  fi
  stop_broker
  python3 - "$out" "$(cut -d' ' -f1 /proc/loadavg)" "$rss_before" "$rss_after" <<'PY'
import json, sys
path, load, before, after = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
try:
    r = json.load(open(path))
except Exception:
    r = {"error": "no result"}
r["loadavg"] = float(load)
if before and after and "connections" in r:
    # Both waves together: what the broker grew by for all of them.
    r["waves_bytes_per_connection"] = (int(after) - int(before)) / (2 * r["connections"]["connected"])
json.dump(r, open(path, "w"))
PY
  printf '  %-15s %-10s round %d: %s\n' "$scenario" "$broker" "$round" "$(summarize "$out")" >&2
}

summarize() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r: print("failed"); sys.exit()
if r["scenario"] == "conn":
    c = r["connections"]
    waves = f', {r["waves_bytes_per_connection"]:.0f} B each over both waves' if "waves_bytes_per_connection" in r else ""
    print(f'{c["connected"]} connections, {r["connect_rate"]:.0f}/s, {r.get("broker_bytes_per_connection", 0):.0f} B each{waves} (load {r["loadavg"]})')
elif r["scenario"] == "storm":
    cpu = r.get("brokerCPUSeconds")
    per = f', broker {cpu / r["clients"] * 1e6:.0f} us/client' if cpu is not None else ""
    print(f'{r["received"]} of {r["clients"]} back with their message in {r["seconds"]:.3f} s{per}, {r["sessionsPresent"]} sessions present (load {r["loadavg"]})')
elif r["scenario"] == "latency":
    l = r["latency"]
    print(f'p50 {l["p50"]:.0f} us, p99 {l["p99"]:.0f} us, lost {r["lost"]} (load {r["loadavg"]})')
else:
    print(f'{r["rate"]:.0f} msg/s, lost {r["lost"]}, dup {r["duplicates"]} (load {r["loadavg"]})')
PY
}

BROKERS="mosquitto starling"
((SCALING)) && BROKERS="$BROKERS starling2"
echo "results in $RESULTS; $NCPU cores, brokers on core $BROKER_CORE, load generator on core $LOADGEN_CORE" >&2
for scenario in $SCENARIOS; do
  for round in $(seq 1 "$ROUNDS"); do
    for broker in $BROKERS; do run_one "$scenario" "$broker" "$round"; done
  done
done

python3 - "$RESULTS" "$ROUNDS" "$SCENARIOS" "$BROKERS" <<'PY'
import json, statistics, sys, os
results, rounds, scenarios, brokers = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
def load(s, b):
    out = []
    for i in range(1, rounds + 1):
        try:
            r = json.load(open(os.path.join(results, f"{s}.{b}.{i}.json")))
            if "error" not in r: out.append(r)
        except Exception: pass
    return out
def metrics(s, runs):
    if not runs: return {}
    kind = runs[0]["scenario"]
    if kind == "conn" and "waves_bytes_per_connection" in runs[0]:
        return {"RSS bytes/conn, 2nd wave": [r.get("broker_bytes_per_connection", float("nan")) for r in runs],
                "RSS bytes/conn, both waves": [r["waves_bytes_per_connection"] for r in runs],
                "held": [2 * r["connections"]["connected"] for r in runs]}
    if kind == "conn":
        def broker_us(r):
            c = r["connections"]
            cpu = (c.get("cpu") or {}).get("brokerPercent")
            return cpu / 100 * c["seconds"] / c["connected"] * 1e6 if cpu is not None and c["connected"] else float("nan")
        return {"connections/s": [r["connect_rate"] for r in runs],
                "broker CPU us/conn": [broker_us(r) for r in runs],
                "RSS bytes/conn": [r.get("broker_bytes_per_connection", float("nan")) for r in runs],
                "held": [r["connections"]["connected"] for r in runs]}
    if kind == "storm":
        return {"storm seconds": [r["seconds"] for r in runs],
                "broker CPU us/client": [r["brokerCPUSeconds"] / r["clients"] * 1e6 if r.get("brokerCPUSeconds") is not None else float("nan") for r in runs],
                "lost": [r["clients"] - r["received"] for r in runs]}
    if kind == "latency":
        return {"p50 us": [r["latency"]["p50"] for r in runs], "p99 us": [r["latency"]["p99"] for r in runs],
                "lost": [r["lost"] for r in runs]}
    return {"msg/s": [r["rate"] for r in runs], "lost": [r["lost"] for r in runs]}
lower_is_better = {"p50 us", "p99 us", "storm seconds", "broker CPU us/client", "broker CPU us/conn", "RSS bytes/conn", "RSS bytes/conn, 2nd wave", "RSS bytes/conn, both waves"}
head = ["scenario", "metric"] + [f"{b} median" for b in brokers] + ["ratio"]
rows = []
for s in scenarios:
    per = {b: metrics(s, load(s, b)) for b in brokers}
    names = next((list(m) for m in per.values() if m), [])
    for name in names:
        if name in ("lost", "held"): continue
        med = {b: statistics.median(per[b][name]) if per[b].get(name) else float("nan") for b in brokers}
        m, st = med.get("mosquitto", float("nan")), med.get("starling", float("nan"))
        if name in lower_is_better: ratio = m / st if st else float("nan")
        else: ratio = st / m if m else float("nan")
        cells = []
        for b in brokers:
            v = med[b]
            extra = ""
            if per[b].get("lost") and max(per[b]["lost"]) > 0: extra = f" (lost up to {max(per[b]['lost'])})"
            if per[b].get("held"): extra = f" ({min(per[b]['held'])} held)"
            cells.append((f"{v:,.3f}" if name.endswith("seconds") else f"{v:,.0f}") + extra)
        rows.append([s, name] + cells + [f"{ratio:.2f}x"])
widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
print(line(head)); print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
for r in rows: print(line(r))
print("\nratio: Starling over Mosquitto for rates, Mosquitto over Starling for latency and memory (above 1 = Starling better).")
PY
