#!/usr/bin/env bash
# Benchmarks/generator-check.sh — is `starling bench` driving the broker at the broker's real capacity?
#
# For each scenario of Benchmarks/compare.sh it runs Mosquitto (fresh for every run, pinned to core 1, the
# same settings as compare.sh) under four load generators, each pinned to core 0, in rounds
# (bench, bench ×2, threads 2, mqttload, bench, …), and prints the medians side by side:
#   bench      one `starling bench` process with one event loop: what compare.sh runs
#   bench ×2   the same load split over two `starling bench` processes started together (each with half
#              the publishers or subscribers on topics of its own); their rates are added
#   threads 2  one `starling bench` process with two event loops
#   mqttload   the independent C load generator (../shared/tools/mqttload), same counts and windows
# If Mosquitto's figure rises under "bench ×2" or "threads 2", one bench loop was the bottleneck; the last
# columns give bench over mqttload and, for the bench, its own CPU and the broker's (% of one core).
#
#   Benchmarks/generator-check.sh [--rounds N] [--scenarios "fanin10_q0 …"] [--starling PATH]
#                                 [--mqttload PATH] [--results DIR] [--scale PERCENT of the message counts]
#   Benchmarks/generator-check.sh --summarize DIR [--rounds N] [--scenarios …]   the table of an earlier run
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/lib.sh

ROUNDS=3
SCENARIOS="fanin10_q0 fanin10_q1 pairs10_q0 pairs10_q1 fanout100_q0 fanout1000_q0 latency_q1 conn10k"
STARLING=""
MQTTLOAD=""
RESULTS=""
BROKER_CORE=1
LOADGEN_CORE=0
PORT=18836
SCALE=100
SUMMARIZE_ONLY=0


# name → bench arguments | the two halves' arguments (%h is a or b) | mqttload arguments.
bench_args() {
  case "$1" in
    conn10k) echo "conn -c 10000 --source-addresses 8 --connect-concurrency 64 -d 1" ;;
    *) shared_scenario_args "$1" ;;
  esac
}
half_args() {
  case "$1" in
    fanin10_q0) echo "fanin -P 5 -q 0 -n $(n 100000) -t bench/%h/%i -f bench/%h/+" ;;
    fanin10_q1) echo "fanin -P 5 -q 1 -n $(n 20000) -t bench/%h/%i -f bench/%h/+" ;;
    pairs10_q0) echo "pairs -P 5 -q 0 -n $(n 100000) -t bench/%h/%i -f bench/%h/%i" ;;
    pairs10_q1) echo "pairs -P 5 -q 1 -n $(n 20000) -t bench/%h/%i -f bench/%h/%i" ;;
    fanout100_q0) echo "fanout -S 50 -q 0 -n $(n 10000) -t bench/%h -f bench/%h" ;;
    fanout1000_q0) echo "fanout -S 500 -q 0 -n $(n 1000) -t bench/%h -f bench/%h" ;;
    latency_q1) echo "latency -q 1 -r 500 -d 10 -t bench/%h -f bench/%h" ;;
    conn10k) echo "conn -c 5000 --source-addresses 8 --connect-concurrency 64 -d 1" ;;
  esac
}
mqttload_args() {
  case "$1" in
    fanin10_q0) echo "--scenario fanin --pubs 10 --qos 0 --count $(n 100000)" ;;
    fanin10_q1) echo "--scenario fanin --pubs 10 --qos 1 --count $(n 20000) --window 64" ;;
    pairs10_q0) echo "--scenario pairs --pubs 10 --qos 0 --count $(n 100000)" ;;
    pairs10_q1) echo "--scenario pairs --pubs 10 --qos 1 --count $(n 20000) --window 64" ;;
    fanout100_q0) echo "--scenario fanout --subs 100 --qos 0 --count $(n 10000)" ;;
    fanout1000_q0) echo "--scenario fanout --subs 1000 --qos 0 --count $(n 1000)" ;;
    latency_q1) echo "--scenario latency --qos 1 --rate 1000 --count 10000" ;;
    conn10k) echo "--scenario conns --conns 10000 --src-addrs 8 --conn-window 64" ;;
  esac
}

while (($#)); do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --starling) STARLING=$2; shift 2 ;;
    --mqttload) MQTTLOAD=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --summarize) RESULTS=$2; SUMMARIZE_ONLY=1; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for s in $SCENARIOS; do bench_args "$s" >/dev/null || { echo "unknown scenario $s" >&2; exit 2; }; done

if ((SUMMARIZE_ONLY == 0)); then
require_mosquitto
require_starling
make_folders starling-generator-check
if [ -z "$MQTTLOAD" ]; then
  # The shared folder is read-only: build a copy.
  cp -r ../shared/tools/mqttload "$WORK/mqttload-src"
  make -s -C "$WORK/mqttload-src" >&2
  MQTTLOAD=$WORK/mqttload-src/mqttload
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The settings of Benchmarks/compare.sh: nothing dropped, Nagle left at Mosquitto's default.
cat >"$WORK/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
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

start_broker() {
  taskset -c "$BROKER_CORE" "$MOSQUITTO" -c "$WORK/mosquitto.conf" 2>>"$RESULTS/mosquitto.log" &
  BROKER_PID=$!
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "mosquitto did not listen on $PORT" >&2; return 1
}
stop_broker() {
  kill "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}
bench() { # output-file args…
  local out=$1; shift
  # shellcheck disable=SC2068
  timeout 200 taskset -c "$LOADGEN_CORE" "$STARLING" bench $@ -p "$PORT" --broker-pid "$BROKER_PID" \
    --timeout 150 --drain 5 --json --no-progress >"$out" 2>>"$RESULTS/bench.log" || true
}

run_one() { # scenario generator round
  local scenario=$1 generator=$2 round=$3 base
  base="$RESULTS/$scenario.$generator.$round"
  start_broker
  case "$generator" in
    bench) bench "$base.json" "$(bench_args "$scenario")" ;;
    threads2) bench "$base.json" "$(bench_args "$scenario") --threads 2" ;;
    split)
      local a b
      a=$(half_args "$scenario" | sed 's/%h/a/g')
      b=$(half_args "$scenario" | sed 's/%h/b/g')
      bench "$base.a.json" "$a --client-id a-%r-%i" &
      local first=$!
      bench "$base.b.json" "$b --client-id b-%r-%i"
      wait "$first" || true
      ;;
    mqttload)
      # shellcheck disable=SC2046
      timeout 200 "$MQTTLOAD" --port "$PORT" --cpu "$LOADGEN_CORE" --broker-pid "$BROKER_PID" --timeout 150 \
        $(mqttload_args "$scenario") >"$base.txt" 2>>"$RESULTS/mqttload.log" || true
      ;;
  esac
  stop_broker
  printf '  %-14s %-9s round %d: %s\n' "$scenario" "$generator" "$round" "$(summary "$base")" >&2
  sleep 0.5
}

summary() {
  python3 - "$1" <<'PY'
import json, sys, os
sys.path.insert(0, os.path.dirname(sys.argv[1]))
base = sys.argv[1]
def bench(path):
    try: return json.load(open(path))
    except Exception: return None
def metric(r):
    if r is None: return None
    if r["scenario"] == "conn": return r["connect_rate"]
    if r["scenario"] == "latency": return r["latency"]["p50"]
    return r["rate"]
if os.path.exists(base + ".txt"):
    kv = dict(x.split("=", 1) for x in open(base + ".txt").read().split() if "=" in x)
    v = kv.get("conns_per_s") or kv.get("p50_us") if kv.get("scenario") in ("conns", "latency") else kv.get("msgs_per_s")
    print(f'{v} (tool CPU {kv.get("tool_cpu_pct")} %, broker {kv.get("broker_cpu_pct")} %, {kv.get("status")})')
elif os.path.exists(base + ".a.json"):
    a, b = bench(base + ".a.json"), bench(base + ".b.json")
    print(f'{metric(a)} + {metric(b)}')
else:
    r = bench(base + ".json")
    cpu = (r or {}).get("cpu") or {}
    print(f'{metric(r)} (bench CPU {cpu.get("generatorPercent", 0):.0f} %, broker {cpu.get("brokerPercent") or 0:.0f} %)')
PY
}

echo "results in $RESULTS; Mosquitto on core $BROKER_CORE, generators on core $LOADGEN_CORE; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for scenario in $SCENARIOS; do
  for round in $(seq 1 "$ROUNDS"); do
    for generator in bench split threads2 mqttload; do run_one "$scenario" "$generator" "$round"; done
  done
done
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)" >&2
fi

python3 - "$RESULTS" "$ROUNDS" "$SCENARIOS" <<'PY'
import json, statistics, sys, os
results, rounds, scenarios = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
def bench(path):
    try:
        r = json.load(open(path))
        return r if "scenario" in r else None
    except Exception: return None
def value(kind, r):
    if kind == "conn": return r["connect_rate"]
    if kind == "latency": return r["latency"]["p50"]
    return r["rate"]
def broker(r):
    return ((r or {}).get("cpu") or {}).get("brokerPercent")
def med(xs):
    xs = [x for x in xs if x is not None and x == x]
    return statistics.median(xs) if xs else float("nan")
GENERATORS = ["mqttload", "bench", "split", "threads2"]
NAMES = {"mqttload": "mqttload", "bench": "bench", "split": "bench ×2", "threads2": "threads 2"}
fmt = lambda v: f"{v:,.0f}" if v == v else "n/a"
pct = lambda v: f"{v:.0f} %" if v == v else "n/a"
raw_rows, core_rows = [], []
for s in scenarios:
    kind = "conn" if s.startswith("conn") else "latency" if s.startswith("latency") else "rate"
    figure = {g: [] for g in GENERATORS}
    # On a machine with other load the broker's share of its core varies from run to run; the rate per
    # second of broker CPU shows whether a generator gets as much out of each broker cycle as another.
    per_core = {g: [] for g in GENERATORS}
    broker_cpu = {g: [] for g in GENERATORS}
    bench_cpu = []
    for i in range(1, rounds + 1):
        base = os.path.join(results, f"{s}.%s.{i}")
        for g in ("bench", "threads2"):
            r = bench(base % g + ".json")
            if not r: continue
            figure[g].append(value(kind, r))
            if broker(r): broker_cpu[g].append(broker(r)); per_core[g].append(value(kind, r) / broker(r) * 100)
            if g == "bench" and r.get("cpu"): bench_cpu.append(r["cpu"]["generatorPercent"])
        a, b = bench(base % "split" + ".a.json"), bench(base % "split" + ".b.json")
        if a and b:
            v = max(value(kind, a), value(kind, b)) if kind == "latency" else value(kind, a) + value(kind, b)
            figure["split"].append(v)
            if broker(a) and broker(b):
                cpu = (broker(a) + broker(b)) / 2
                broker_cpu["split"].append(cpu); per_core["split"].append(v / cpu * 100)
        try:
            kv = dict(x.split("=", 1) for x in open(base % "mqttload" + ".txt").read().split() if "=" in x)
            if kv.get("status") == "ok":
                key = {"conn": "conns_per_s", "latency": "p50_us", "rate": "msgs_per_s"}[kind]
                v, cpu = float(kv[key]), float(kv.get("broker_cpu_pct", "nan"))
                figure["mqttload"].append(v); broker_cpu["mqttload"].append(cpu)
                if cpu > 0: per_core["mqttload"].append(v / cpu * 100)
        except Exception: pass
    metric = {"conn": "connections/s", "latency": "p50 µs", "rate": "msg/s"}[kind]
    m = {g: med(figure[g]) for g in GENERATORS}
    ratio = m["bench"] / m["mqttload"] if m["mqttload"] == m["mqttload"] and m["mqttload"] else float("nan")
    raw_rows.append([s, metric] + [f'{fmt(m[g])} ({pct(med(broker_cpu[g]))})' for g in GENERATORS] + [f"{ratio:.2f}", pct(med(bench_cpu))])
    if kind != "latency":
        c = {g: med(per_core[g]) for g in GENERATORS}
        core_ratio = c["bench"] / c["mqttload"] if c["mqttload"] == c["mqttload"] and c["mqttload"] else float("nan")
        core_rows.append([s, metric + " per broker core"] + [fmt(c[g]) for g in GENERATORS] + [f"{core_ratio:.2f}"])
def table(head, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(head)); print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows: print(line(r))
print(f"Mosquitto's figures under each generator, medians of {rounds} (the broker's CPU, % of one core, in brackets):\n")
table(["scenario", "metric"] + [NAMES[g] for g in GENERATORS] + ["bench / mqttload", "bench's own CPU"], raw_rows)
print("\nThe same per second of the broker's CPU (rate ÷ broker CPU share):\n")
table(["scenario", "metric"] + [NAMES[g] for g in GENERATORS] + ["bench / mqttload"], core_rows)
print("\nLatency: lower is better; bench ×2 there is the worse p50 of two streams of 500 msg/s.")
PY
