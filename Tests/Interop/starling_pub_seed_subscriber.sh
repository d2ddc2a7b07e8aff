# What `starling pub` publishes reaches the seed document's MQTT.js subscriber, run unchanged.
# Usage: bash starling_pub_seed_subscriber.sh PORT SEED_DIR STARLING
source "$(dirname "$0")/lib.sh"
SEED=$1
STARLING=$2
export NODE_PATH=/usr/share/nodejs MQTT_URL="mqtt://$HOST:$PORT"

node "$SEED/subscriber.js" >"$WORK/sub" 2>&1 &
BACKGROUND+=($!)
# The subscriber prints `null`, the error given to its subscribe callback, once the SUBACK arrives.
wait_for_line "$WORK/sub" '^null$' 15 || fail "subscriber did not print connected! and null within 15 s; output: $(head -c 300 "$WORK/sub" | tr '\n' ' ')"

sent=()
for qos in 0 1 2; do
  message="Hello mqtt from starling pub $qos $$"
  timeout -k 5 20 "$STARLING" pub -h "$HOST" -p "$PORT" -t test -q "$qos" -m "$message" >"$WORK/pub" 2>&1
  status=$?
  ((status == 0)) || fail "starling pub -q $qos exited with status $status: $(tr '\n' ' ' <"$WORK/pub" | head -c 300)"
  sent+=("test" "$message")
done

expected=$(printf '%s\n' "connected!" "null" "${sent[@]}")
deadline=$((SECONDS + 10))
until [[ "$(cat "$WORK/sub")" == "$expected" ]]; do
  ((SECONDS < deadline)) || fail "subscriber output is not connected!, null and a test line before each message in order: $(tr '\n' '|' <"$WORK/sub" | head -c 400)"
  sleep 0.05
done
