# A client killed with SIGKILL has its will published to a subscriber.
# Usage: bash mosquitto_will.sh PORT mqttv311|mqttv5
source "$(dirname "$0")/lib.sh"
VERSION=$1
TOPIC=$(unique_topic mosquitto-will)

start_sub "$WORK/watcher" -V "$VERSION" -q 1 -t "$TOPIC" -C 1 -v
WATCHER=$SUB_PID
wait_for_suback "$WORK/watcher"

# -W bounds the doomed client's life should the kill below never come.
start_sub "$WORK/doomed" -V "$VERSION" -t "$TOPIC/unused" -W 30 \
  --will-topic "$TOPIC" --will-payload "gone away" --will-qos 1
wait_for_suback "$WORK/doomed"
kill -KILL "$SUB_PID"
wait "$SUB_PID" 2>/dev/null

wait_for_exit "$WATCHER" 10 || fail "no will received within 10 s of the SIGKILL"
[[ "$(messages "$WORK/watcher")" == "1|0|$TOPIC|gone away" ]] || fail "expected will 'gone away' at QoS 1, got: $(messages "$WORK/watcher")"
