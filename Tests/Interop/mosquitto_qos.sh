# mosquitto_sub receives exactly what mosquitto_pub published, in order, at the published QoS.
# Usage: bash mosquitto_qos.sh PORT mqttv311|mqttv5 QOS
source "$(dirname "$0")/lib.sh"
VERSION=$1 QOS=$2
TOPIC=$(unique_topic "mosquitto-qos$QOS")
# The last one is a marker: a duplicate of an earlier message would push it out of the subscriber's count.
PAYLOADS=("first message" "second: with | bar and ünïcödé" "third" "end")

start_sub "$WORK/sub" -V "$VERSION" -q "$QOS" -t "$TOPIC" -C "${#PAYLOADS[@]}" -v
wait_for_suback "$WORK/sub"

printf '%s\n' "${PAYLOADS[@]}" |
  timeout 10 mosquitto_pub -h "$HOST" -p "$PORT" -V "$VERSION" -q "$QOS" -t "$TOPIC" -l >"$WORK/pub" 2>&1 ||
  fail "mosquitto_pub failed: $(tail -n 2 "$WORK/pub" | tr '\n' ' ')"

wait_for_exit "$SUB_PID" 10
status=$?
expected=$(for p in "${PAYLOADS[@]}"; do echo "$QOS|0|$TOPIC|$p"; done)
actual=$(messages "$WORK/sub")
[[ $status -eq 0 ]] || fail "subscriber did not receive ${#PAYLOADS[@]} messages within 10 s (status $status); got: $(echo "$actual" | tr '\n' ';')"
[[ "$actual" == "$expected" ]] || fail "expected [$(echo "$expected" | tr '\n' ';')] got [$(echo "$actual" | tr '\n' ';')]"
