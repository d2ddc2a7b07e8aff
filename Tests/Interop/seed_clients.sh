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

deadline=$((SECONDS + 15))
while (($(grep -Ec '^Hello mqtt [0-9]+$' "$WORK/sub") < WANTED)); do
  ((SECONDS < deadline)) || fail "fewer than $WANTED messages within 15 s; subscriber: $(tr '\n' ' ' <"$WORK/sub" | head -c 300) publisher: $(tr '\n' ' ' <"$WORK/pub" | head -c 200)"
  sleep 0.1
done
[[ "$(head -n 1 "$WORK/pub")" == "connected!" ]] || fail "publisher's first line is not 'connected!': $(head -n 1 "$WORK/pub")"

# Every message is a `test` line then its payload, stamped after the publisher started, in increasing order.
python3 - "$WORK/sub" "$started_ms" <<'PY' || exit 1
import re, sys
lines = open(sys.argv[1]).read().splitlines()
started = int(sys.argv[2])
if lines[:2] != ["connected!", "null"]:
    sys.exit(f"subscriber output should begin connected!, null; got {lines[:2]}")
body = lines[2:]
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
