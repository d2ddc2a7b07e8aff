#!/usr/bin/env bash
# Interoperability checks: starts the given `starling` on a free 127.0.0.1 port and runs real clients against it
# (mosquitto_pub/mosquitto_sub, Python paho-mqtt 2.x, the seed's MQTT.js publisher and subscriber, the given
# `starling`'s own pub and sub, the Swift examples Publisher and Subscriber) and, on its operations listener,
# Prometheus' parser, schemathesis, `starling ctl` and headless Chromium; then stops it with SIGTERM and
# expects a clean exit. A second broker, configured from starling.example.yaml, serves the TLS, WebSocket and
# PROXY protocol checks; another, with a password file and an ACL, the auth/ check.
#
#   bash Scripts/interop.sh PATH_TO_STARLING
#
# The examples are built first with `swift build -c release` (a quick no-op when they are up to date).
# Prints `PASS name` or `FAIL name: reason` per check and ends with `N passed, N failed`; exits 1 if any failed.
# INTEROP_ONLY=REGEX runs only the checks whose names match (the broker's SIGTERM check always runs).
set -uo pipefail

if (($# != 1)); then
  echo "usage: $0 PATH_TO_STARLING" >&2
  exit 2
fi
STARLING=$(realpath "$1") || exit 2
[[ -x "$STARLING" ]] || { echo "$STARLING is not an executable" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CHECKS="$ROOT/Tests/Interop"
SEED=""
for shared in "$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null)/../shared" "$ROOT/../shared"; do
  if [[ -f "$shared/seed/subscriber.js" ]]; then
    SEED=$(cd "$shared/seed" && pwd)
    break
  fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/starling-interop.XXXXXX")
# The checks leave nothing behind in the checkout.
export PYTHONDONTWRITEBYTECODE=1
BROKER_TIMEOUT_PID=""
idle_pid=""
cleanup() {
  [[ -n "$idle_pid" ]] && kill -KILL "$idle_pid" 2>/dev/null
  [[ -n "$BROKER_TIMEOUT_PID" ]] && kill -KILL "$BROKER_TIMEOUT_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

PASSED=0
FAILED=0
pass() {
  echo "PASS $1"
  PASSED=$((PASSED + 1))
}
failed() {
  echo "FAIL $1: $2"
  FAILED=$((FAILED + 1))
}

# run_check NAME SECONDS COMMAND...: the command passes by exiting 0; otherwise its last output line is the reason.
run_check() {
  local name=$1 limit=$2
  shift 2
  [[ -z "${INTEROP_ONLY:-}" || "$name" =~ $INTEROP_ONLY ]] || return 0
  local out="$WORK/check.out" status
  timeout -k 5 "$limit" "$@" >"$out" 2>&1 </dev/null
  status=$?
  if ((status == 0)); then
    pass "$name"
  elif ((status == 124 || status == 137)); then
    failed "$name" "no result within $limit s; last output: $(grep -v '^\s*$' "$out" | tail -n 1)"
  else
    failed "$name" "$(grep -v '^\s*$' "$out" | tail -n 1 || echo "exit status $status, no output")"
  fi
}

# Built before the broker starts, so that the build's time does not count against the broker's bound.
EXAMPLES=""
EXAMPLES_ERROR=""
if [[ -z "${INTEROP_ONLY:-}" || "swift-examples/publisher-subscriber" =~ $INTEROP_ONLY ]]; then
  for product in Publisher Subscriber; do
    if ! build_log=$(cd "$ROOT" && timeout -k 10 1800 swift build -c release --product "$product" 2>&1); then
      EXAMPLES_ERROR="swift build -c release --product $product failed: $(tail -n 1 <<<"$build_log")"
      break
    fi
  done
  [[ -z "$EXAMPLES_ERROR" ]] && EXAMPLES=$(cd "$ROOT" && timeout 120 swift build -c release --show-bin-path)
fi

{ read -r PORT; read -r HTTP_PORT; } < <(python3 "$CHECKS/free_ports.py" 2)
HTTP_URL="http://127.0.0.1:$HTTP_PORT"
BROKER_LOG="$WORK/broker.log"
# The bound outlives any run of the checks; normally the broker is stopped long before by the SIGTERM below,
# sent to the broker itself (whose pid the shell records before becoming it) rather than through `timeout`.
timeout -k 10 900 bash -c 'echo $$ >"$0"; exec "$@"' "$WORK/broker.pid" \
  "$STARLING" --host 127.0.0.1 --port "$PORT" --http-port "$HTTP_PORT" --data-dir "$WORK/data" >"$BROKER_LOG" 2>&1 &
BROKER_TIMEOUT_PID=$!

accepting() { timeout 2 bash -c ': </dev/tcp/127.0.0.1/$0' "$PORT" 2>/dev/null; }
deadline=$((SECONDS + 60))
until accepting || ! kill -0 "$BROKER_TIMEOUT_PID" 2>/dev/null || ((SECONDS >= deadline)); do
  sleep 0.05
done
if ! accepting; then
  echo "starling did not accept connections on 127.0.0.1:$PORT; its output:" >&2
  cat "$BROKER_LOG" >&2
  if kill -0 "$BROKER_TIMEOUT_PID" 2>/dev/null; then
    failed "broker/start" "no connection accepted on 127.0.0.1:$PORT within 60 s"
  else
    wait "$BROKER_TIMEOUT_PID"
    failed "broker/start" "$STARLING exited with status $? before accepting connections"
  fi
  echo "$PASSED passed, $FAILED failed"
  exit 1
fi
echo "starling listening on 127.0.0.1:$PORT"

for version in mqttv311 mqttv5; do
  short=${version#mqtt}
  for qos in 0 1 2; do
    run_check "mosquitto/$short/qos$qos" 30 bash "$CHECKS/mosquitto_qos.sh" "$PORT" "$version" "$qos"
  done
  run_check "mosquitto/$short/retained" 30 bash "$CHECKS/mosquitto_retained.sh" "$PORT" "$version"
  run_check "mosquitto/$short/will" 30 bash "$CHECKS/mosquitto_will.sh" "$PORT" "$version"
done

for protocol in 311 5; do
  for check in qos retained will session churn; do
    run_check "paho/v$protocol/$check" 120 python3 "$CHECKS/paho_$check.py" --port "$PORT" --protocol "$protocol"
  done
done
for check in user_properties subscription_identifiers message_expiry topic_alias shared_subscriptions; do
  run_check "paho/v5/${check//_/-}" 60 python3 "$CHECKS/paho_$check.py" --port "$PORT" --protocol 5
done

if [[ -n "$SEED" ]]; then
  run_check "seed/mqttjs-publisher-subscriber" 60 bash "$CHECKS/seed_clients.sh" "$PORT" "$SEED"
  run_check "seed/mqttjs-publisher-starling-sub" 60 bash "$CHECKS/starling_sub_seed_publisher.sh" "$PORT" "$SEED" "$STARLING"
  run_check "seed/starling-pub-mqttjs-subscriber" 60 bash "$CHECKS/starling_pub_seed_subscriber.sh" "$PORT" "$SEED" "$STARLING"
else
  for name in mqttjs-publisher-subscriber mqttjs-publisher-starling-sub starling-pub-mqttjs-subscriber; do
    [[ -z "${INTEROP_ONLY:-}" || "seed/$name" =~ $INTEROP_ONLY ]] || continue
    failed "seed/$name" "no shared/seed/ folder beside the checkout ($ROOT/../shared)"
  done
fi

if [[ -n "$EXAMPLES" ]]; then
  run_check "swift-examples/publisher-subscriber" 60 bash "$CHECKS/swift_examples.sh" "$PORT" "$EXAMPLES/Publisher" "$EXAMPLES/Subscriber"
elif [[ -n "$EXAMPLES_ERROR" ]]; then
  failed "swift-examples/publisher-subscriber" "$EXAMPLES_ERROR"
fi

# starling pub and sub against mosquitto_pub and mosquitto_sub, option by option, on a Mosquitto of the check's own.
run_check "cli/mosquitto-option-parity" 180 python3 "$CHECKS/cli_parity.py" --starling "$STARLING"

# The operations listener of the same broker: /metrics read by Prometheus' own parser, the admin API tested
# against its OpenAPI document, `starling ctl`, and the dashboard driven in a real browser, which leaves its
# screenshots in $SCREENSHOTS.
OPERATIONS="$ROOT/Tests/Operations"
SCREENSHOTS=${SCREENSHOTS:-$ROOT/artifacts/dashboard}
run_check "operations/metrics-prometheus-parser" 60 python3 "$OPERATIONS/metrics_check.py" --http "$HTTP_URL" --mqtt-port "$PORT"
run_check "operations/admin-api-schemathesis" 300 bash "$OPERATIONS/schemathesis.sh" "$HTTP_URL" 100
run_check "operations/starling-ctl" 60 bash "$OPERATIONS/ctl.sh" "$STARLING" "$HTTP_URL" "$PORT"
if [[ -z "${INTEROP_ONLY:-}" || "operations/dashboard-chromium" =~ $INTEROP_ONLY ]]; then
  mkdir -p "$SCREENSHOTS"
  run_check "operations/dashboard-chromium" 120 python3 "$OPERATIONS/dashboard_test.py" --http "$HTTP_URL" --mqtt-port "$PORT" \
    --screenshots "$SCREENSHOTS"
  echo "dashboard screenshots: $SCREENSHOTS"
fi
if [[ -z "${INTEROP_ONLY:-}" || "cli/bench-report-chromium" =~ $INTEROP_ONLY ]]; then
  run_check "cli/bench-report-chromium" 120 python3 "$CHECKS/bench_report_test.py" --starling "$STARLING" --port "$PORT" \
    --screenshots "$ROOT/artifacts/bench-report"
fi

# A second broker, started from starling.example.yaml: TLS with client certificates, WebSocket with and without
# TLS, PROXY protocol (Tests/Interop/listeners.sh reports its own checks).
if [[ -z "${INTEROP_ONLY:-}" || "listeners/" =~ $INTEROP_ONLY || "$INTEROP_ONLY" =~ ^listeners ]]; then
  while IFS= read -r line; do
    case $line in
      PASS\ *) pass "${line#PASS }" ;;
      FAIL\ *)
        check=${line#FAIL }
        failed "${check%%: *}" "${check#*: }"
        ;;
      *) echo "$line" >&2 ;;
    esac
  done < <(timeout -k 5 300 bash "$CHECKS/listeners.sh" "$STARLING" "$ROOT/starling.example.yaml" 2>&1)
fi

# A broker of its own, killed with SIGKILL again and again: what it acknowledged must survive.
run_check "persistence/sigkill-loop" 150 bash "$CHECKS/crash.sh" "$STARLING"
# The same with its state in PostgreSQL, when a server is given (.ci/run starts one), on a new database.
if [[ -n "${STARLING_TEST_POSTGRES_URL:-}" ]]; then
  run_check "persistence/postgres-sigkill-loop" 150 bash "$CHECKS/with_postgres_database.sh" \
    python3 "$CHECKS/crash_test.py" --starling "$STARLING" --kills 10 --seconds 60 --store-url
  # Three nodes as one broker, one of them killed with SIGKILL under load.
  run_check "cluster/three-nodes" 240 bash "$CHECKS/with_postgres_database.sh" \
    python3 "$CHECKS/cluster_test.py" --starling "$STARLING" --screenshots "$ROOT/artifacts/cluster" --postgres
  # Two nodes on a PostgreSQL server of the check's own, stopped and started again under load.
  run_check "cluster/postgres-restart" 180 python3 "$CHECKS/cluster_database_restart_test.py" --starling "$STARLING"
else
  echo "(persistence/postgres-sigkill-loop and the cluster checks not run: no STARLING_TEST_POSTGRES_URL)"
fi

# Another broker of its own, with a password file and an ACL, on another free port.
AUTH_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_check "auth/passwords-acl-reload" 150 bash "$CHECKS/auth_deployment.sh" "$AUTH_PORT" "$STARLING"

# Another broker of its own whose connections hibernate after a second idle; then one that hurries them.
HIBERNATION_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_check "hibernation/mosquitto-paho" 90 bash "$CHECKS/hibernation.sh" "$HIBERNATION_PORT" "$STARLING" idle
HIBERNATION_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_check "hibernation/hurried-mosquitto-paho" 90 bash "$CHECKS/hibernation.sh" "$HIBERNATION_PORT" "$STARLING" hurried

# The broker must still be running, and must leave cleanly on SIGTERM, even with a client connected.
broker_pid=$(cat "$WORK/broker.pid")
if ! kill -0 "$BROKER_TIMEOUT_PID" 2>/dev/null; then
  wait "$BROKER_TIMEOUT_PID"
  failed "broker/sigterm" "the broker exited during the checks, status $?"
else
  stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$PORT" -V mqttv5 -t interop/shutdown -W 30 >"$WORK/idle" 2>&1 &
  idle_pid=$!
  for _ in $(seq 200); do
    grep -q '^Subscribed' "$WORK/idle" && break
    sleep 0.05
  done
  kill -TERM "$broker_pid"
  stopped=""
  for _ in $(seq 300); do
    kill -0 "$BROKER_TIMEOUT_PID" 2>/dev/null || { stopped=yes; break; }
    sleep 0.05
  done
  if [[ -z "$stopped" ]]; then
    kill -KILL "$broker_pid" 2>/dev/null
    failed "broker/sigterm" "still running 15 s after SIGTERM"
  else
    wait "$BROKER_TIMEOUT_PID"
    status=$?
    BROKER_TIMEOUT_PID=""
    if ((status == 0)); then pass "broker/sigterm"; else failed "broker/sigterm" "exit status $status after SIGTERM"; fi
  fi
fi

if [[ -n "$idle_pid" ]]; then
  { kill -KILL "$idle_pid" && wait "$idle_pid"; } 2>/dev/null
  idle_pid=""
fi

# Every broker and client a check started has stopped with it. A check's cleanup that killed only the `timeout`
# around its broker used to leave the broker running after the check.
if [[ -z "${INTEROP_ONLY:-}" ]]; then
  left=()
  for cmdline in /proc/[0-9]*/cmdline; do
    read -r -d '' executable 2>/dev/null <"$cmdline" || continue
    [[ $executable == "$STARLING" ]] && left+=("${cmdline//[!0-9]/}")
  done
  if ((${#left[@]} == 0)); then
    pass "checks/nothing-left-running"
  else
    failed "checks/nothing-left-running" "still running after the checks: ${#left[@]} processes of $STARLING (${left[*]})"
    kill -KILL "${left[@]}" 2>/dev/null
  fi
fi

if ((FAILED > 0)); then
  echo "-- broker output (last 40 lines):" >&2
  tail -n 40 "$BROKER_LOG" >&2
fi
echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
