# `starling sub` prints what the seed document's MQTT.js publisher, run unchanged, sends through the broker.
# Usage: bash starling_sub_seed_publisher.sh PORT SEED_DIR STARLING
source "$(dirname "$0")/lib.sh"
SEED=$1
STARLING=$2
WANTED=3
export NODE_PATH=/usr/share/nodejs MQTT_URL="mqtt://$HOST:$PORT" PUB_INTERVAL_MS=200

started_ms=$(date +%s%3N)
# The publisher goes on publishing, so `sub` gets its messages whenever its subscription is in place.
node "$SEED/publisher.js" >"$WORK/pub" 2>&1 &
BACKGROUND+=($!)

timeout -k 5 20 "$STARLING" sub -h "$HOST" -p "$PORT" -t test -v -C "$WANTED" >"$WORK/sub" 2>"$WORK/sub.err"
status=$?
((status == 0)) || fail "starling sub exited with status $status; stderr: $(tr '\n' ' ' <"$WORK/sub.err" | head -c 300) publisher: $(tr '\n' ' ' <"$WORK/pub" | head -c 200)"
[[ "$(head -n 1 "$WORK/pub")" == "connected!" ]] || fail "publisher's first line is not 'connected!': $(head -n 1 "$WORK/pub")"

# Exactly -C messages, each `test Hello mqtt <ms>`, stamped after the publisher started, in increasing order.
python3 - "$WORK/sub" "$started_ms" "$WANTED" <<'PY' || exit 1
import re, sys
lines = open(sys.argv[1]).read().splitlines()
started, wanted = int(sys.argv[2]), int(sys.argv[3])
if len(lines) != wanted:
    sys.exit(f"expected {wanted} lines from starling sub -C {wanted}, got {lines}")
stamps = []
for line in lines:
    match = re.fullmatch(r"test Hello mqtt (\d+)", line)
    if not match:
        sys.exit(f"expected 'test Hello mqtt <ms>', got {line!r}")
    stamps.append(int(match.group(1)))
if any(s < started - 1000 for s in stamps) or stamps != sorted(stamps) or len(set(stamps)) != len(stamps):
    sys.exit(f"timestamps not fresh, increasing and distinct: {stamps}")
PY
