# mosquitto_pub/mosquitto_sub over TLS on a listener that requires a client certificate (--cafile, --cert, --key).
# With --refused: a client without a certificate gets nothing, not even a retained message.
# Usage: bash listeners_mosquitto_tls.sh PORT CERT_DIR [--refused]
source "$(dirname "$0")/lib.sh"
DIR=$1
MODE=${2:-}
TOPIC=$(unique_topic listeners-tls)
tls=(--cafile "$DIR/ca.crt")
device=(--cert "$DIR/device.crt" --key "$DIR/device.key")

mosquitto_pub -h "$HOST" -p "$PORT" "${tls[@]}" "${device[@]}" -V mqttv311 -t "$TOPIC" -m "kept for later" -q 1 -r ||
  fail "mosquitto_pub with the device certificate failed"

if [[ "$MODE" == "--refused" ]]; then
  # The retained message would reach any client that got in.
  mosquitto_sub -h "$HOST" -p "$PORT" "${tls[@]}" -V mqttv5 -t "$TOPIC" -C 1 -W 5 >"$WORK/out" 2>&1
  status=$?
  grep -q "kept for later" "$WORK/out" && fail "a client without a certificate received the retained message"
  ((status != 0)) || fail "mosquitto_sub without a certificate exited 0: $(tr '\n' ' ' <"$WORK/out")"
  exit 0
fi

out=$(mosquitto_sub -h "$HOST" -p "$PORT" "${tls[@]}" "${device[@]}" -V mqttv5 -t "$TOPIC" -C 1 -W 10 2>&1) ||
  fail "mosquitto_sub with the device certificate failed: $out"
[[ "$out" == "kept for later" ]] || fail "expected the retained message, got: $out"
