# The Swift examples Publisher and Subscriber, the seed document's clients written with StarlingClient,
# exchange messages through the broker.
# Usage: bash swift_examples.sh PORT PUBLISHER SUBSCRIBER
source "$(dirname "$0")/lib.sh"
PUBLISHER=$1
SUBSCRIBER=$2
WANTED=3
export MQTT_URL="mqtt://$HOST:$PORT" PUB_INTERVAL_MS=200

# Line-buffered: Swift's print() fully buffers a standard output that is not a terminal.
stdbuf -oL "$SUBSCRIBER" >"$WORK/sub" 2>&1 &
BACKGROUND+=($!)
wait_for_line "$WORK/sub" '^connected!$' 15 || fail "Subscriber did not print connected! within 15 s; output: $(head -c 300 "$WORK/sub" | tr '\n' ' ')"

# Subscriber prints nothing once subscribed, and the publisher goes on publishing: the first messages may
# come before the subscription is in place, so only those that arrive are checked.
started_ms=$(date +%s%3N)
stdbuf -oL "$PUBLISHER" >"$WORK/pub" 2>&1 &
BACKGROUND+=($!)

expect_hello_messages "$WORK/sub" "$WORK/pub" "$started_ms" "$WANTED" "connected!"
