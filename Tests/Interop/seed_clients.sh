# The seed document's MQTT.js subscriber and publisher, run unchanged, exchange messages through the broker.
# Usage: bash seed_clients.sh PORT SEED_DIR
source "$(dirname "$0")/lib.sh"
SEED=$1
WANTED=3
export NODE_PATH=/usr/share/nodejs MQTT_URL="mqtt://$HOST:$PORT" PUB_INTERVAL_MS=200

node "$SEED/subscriber.js" >"$WORK/sub" 2>&1 &
BACKGROUND+=($!)
# The subscriber prints `null`, the error given to its subscribe callback, once the SUBACK arrives.
wait_for_line "$WORK/sub" '^null$' 15 || fail "subscriber did not print connected! and null within 15 s; output: $(head -c 300 "$WORK/sub" | tr '\n' ' ')"
[[ "$(head -n 1 "$WORK/sub")" == "connected!" ]] || fail "subscriber's first line is not 'connected!': $(head -n 1 "$WORK/sub")"

started_ms=$(date +%s%3N)
node "$SEED/publisher.js" >"$WORK/pub" 2>&1 &
BACKGROUND+=($!)

expect_hello_messages "$WORK/sub" "$WORK/pub" "$started_ms" "$WANTED" "connected!" "null"
