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

deadline=$((SECONDS + 15))
while (($(grep -Ec '^Hello mqtt [0-9]+$' "$WORK/sub") < WANTED)); do
  ((SECONDS < deadline)) || fail "fewer than $WANTED messages within 15 s; Subscriber: $(tr '\n' ' ' <"$WORK/sub" | head -c 300) Publisher: $(tr '\n' ' ' <"$WORK/pub" | head -c 200)"
  sleep 0.1
done
[[ "$(head -n 1 "$WORK/pub")" == "connected!" ]] || fail "Publisher's first line is not 'connected!': $(head -n 1 "$WORK/pub")"

# Every message is a `test` line then its payload, stamped after the publisher started, in increasing order.
python3 - "$WORK/sub" "$started_ms" <<'PY' || exit 1
import re, sys
lines = open(sys.argv[1]).read().splitlines()
started = int(sys.argv[2])
if lines[:1] != ["connected!"]:
    sys.exit(f"Subscriber output should begin connected!; got {lines[:1]}")
body = lines[1:]
if len(body) % 2:
    body = body[:-1]  # A message whose payload line is still being written.
stamps = []
for topic, payload in zip(body[0::2], body[1::2]):
    match = re.fullmatch(r"Hello mqtt (\d+)", payload)
    if topic != "test" or not match:
        sys.exit(f"expected a 'test' line then 'Hello mqtt <ms>', got {topic!r}, {payload!r}")
    stamps.append(int(match.group(1)))
if any(s < started - 1000 for s in stamps) or stamps != sorted(stamps) or len(set(stamps)) != len(stamps):
    sys.exit(f"timestamps not fresh, increasing and distinct: {stamps}")
PY
