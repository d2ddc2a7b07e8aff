# Sourced by the comparison scripts in this folder: what each of them needs the same way.

# A message count scaled by SCALE percent, at least 1.
n() { echo $(($1 * SCALE / 100 > 0 ? $1 * SCALE / 100 : 1)); }

# `starling bench` arguments of the scenarios the comparisons share: fan-in, pairs, fan-out, latency.
# Message counts keep each throughput run at 200k-1M deliveries.
shared_scenario_args() {
  case "$1" in
    fanin10_q0) echo "fanin -P 10 -q 0 -n $(n 100000)" ;;
    fanin10_q1) echo "fanin -P 10 -q 1 -n $(n 20000)" ;;
    pairs10_q0) echo "pairs -P 10 -q 0 -n $(n 100000)" ;;
    pairs10_q1) echo "pairs -P 10 -q 1 -n $(n 20000)" ;;
    fanout100_q0) echo "fanout -S 100 -q 0 -n $(n 10000)" ;;
    fanout1000_q0) echo "fanout -S 1000 -q 0 -n $(n 1000)" ;;
    latency_q1) echo "latency -q 1 -r 1000 -d 10" ;;
    *) return 1 ;;
  esac
}

# Sets MOSQUITTO, or stops the script if Debian's mosquitto is not installed.
require_mosquitto() {
  MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  [ -x "$MOSQUITTO" ] || { echo "mosquitto not found (apt-get install mosquitto)" >&2; exit 1; }
}

# Builds the release `starling` unless STARLING names one already.
require_starling() {
  if [ -z "$STARLING" ]; then
    swift build -c release --product starling >&2
    STARLING="$(swift build -c release --show-bin-path)/starling"
  fi
}

# RESULTS (kept) and WORK (removed at exit) folders named after PREFIX; the broker in BROKER_PID, if any, is
# stopped at exit.
make_folders() {
  RESULTS=${RESULTS:-$(mktemp -d "/tmp/$1.XXXXXX")}
  mkdir -p "$RESULTS"
  WORK=$(mktemp -d "/tmp/$1-work.XXXXXX")
  BROKER_PID=""
  trap cleanup EXIT
}
cleanup() {
  if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
