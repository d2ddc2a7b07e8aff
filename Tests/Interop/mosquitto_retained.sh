# A retained message reaches a later subscriber with the retain flag; an empty retained publish deletes it.
# Usage: bash mosquitto_retained.sh PORT mqttv311|mqttv5
source "$(dirname "$0")/lib.sh"
VERSION=$1
TOPIC=$(unique_topic mosquitto-retained)
pub() { timeout 10 mosquitto_pub -h "$HOST" -p "$PORT" -V "$VERSION" -t "$TOPIC" "$@" >"$WORK/pub" 2>&1 || fail "mosquitto_pub $* failed: $(tail -n 2 "$WORK/pub" | tr '\n' ' ')"; }

pub -q 1 -r -m "kept value"

start_sub "$WORK/late" -V "$VERSION" -q 1 -t "$TOPIC" -C 1 -v
wait_for_exit "$SUB_PID" 10 || fail "a subscriber arriving after the retained publish received nothing within 10 s"
[[ "$(messages "$WORK/late")" == "1|1|$TOPIC|kept value" ]] || fail "expected retained 'kept value' with retain flag 1 at QoS 1, got: $(messages "$WORK/late")"

pub -q 1 -r -n

# After the deletion a new subscriber must get nothing on subscribing: the first message it sees is the live
# marker published after its SUBACK, with the retain flag clear.
start_sub "$WORK/after" -V "$VERSION" -q 1 -t "$TOPIC" -C 1 -v
wait_for_suback "$WORK/after"
pub -q 1 -m marker
wait_for_exit "$SUB_PID" 10 || fail "subscriber received nothing within 10 s after the retained message was deleted"
[[ "$(messages "$WORK/after")" == "1|0|$TOPIC|marker" ]] || fail "after an empty retained publish expected only the live 'marker', got: $(messages "$WORK/after" | tr '\n' ';')"
