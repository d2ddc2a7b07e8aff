# Idle connections hibernate and wake unnoticed by real clients: mosquitto_sub (3.1.1 and 5.0) with a short keep
# alive stays connected while hibernating (its pings answered), then receives QoS 0, 1 and 2 messages from
# mosquitto_pub, and a paho-mqtt client hibernates and still publishes.
# MODE idle: connections hibernate after a second idle. MODE hurried: after a tenth of a second, as when more
# connections are awake than --hibernate-quickly-above allows, the subscription right after CONNECT included.
# Usage: bash hibernation.sh PORT PATH_TO_STARLING [idle|hurried]   (starts its own broker on PORT)
source "$(dirname "$0")/lib.sh"
STARLING=$1
case ${3:-idle} in
  idle) HIBERNATION=(--hibernate-after 1) ;;
  hurried) HIBERNATION=(--hibernate-after 60 --hibernate-quickly-above 0) ;;
  *) fail "unknown mode: $3" ;;
esac

timeout -k 5 90 "$STARLING" --host "$HOST" --port "$PORT" --memory "${HIBERNATION[@]}" --sys-interval 1 \
  >"$WORK/broker.log" 2>&1 &
BACKGROUND+=("$!")
deadline=$((SECONDS + 30))
until timeout 2 bash -c ': </dev/tcp/127.0.0.1/$0' "$PORT" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "starling did not listen within 30 s: $(tail -n 3 "$WORK/broker.log" | tr '\n' ' ')"
  sleep 0.05
done

hibernating() {
  timeout 5 mosquitto_sub -h "$HOST" -p "$PORT" -t '$SYS/broker/clients/hibernating' -C 1 -W 4 2>/dev/null || echo -1
}
# Waits (15 s at most) until at least $1 connections hibernate.
wait_for_hibernating() {
  local deadline=$((SECONDS + 15)) count
  until count=$(hibernating) && ((count >= $1)); do
    ((SECONDS < deadline)) || fail "fewer than $1 connections hibernating after 15 s (last: $count); broker: $(tail -n 3 "$WORK/broker.log" | tr '\n' ' ')"
    sleep 0.5
  done
}

TOPIC=$(unique_topic hibernation)
start_sub "$WORK/v311" -V mqttv311 -k 5 -q 2 -t "$TOPIC/#" -C 4
SUB311=$SUB_PID
wait_for_suback "$WORK/v311"
start_sub "$WORK/v5" -V mqttv5 -k 5 -q 2 -t "$TOPIC/#" -C 4
SUB5=$SUB_PID
wait_for_suback "$WORK/v5"
wait_for_hibernating 2

# Two and a half keep-alive periods asleep: each ping must be answered, or the clients give up and exit.
sleep 12
for sub in v311 v5; do
  (($(grep -c 'received PINGRESP' "$WORK/$sub") >= 2)) || fail "the $sub subscriber's pings went unanswered: $(tail -n 3 "$WORK/$sub" | tr '\n' ' ')"
  (($(grep -c 'sending CONNECT' "$WORK/$sub") == 1)) || fail "the $sub subscriber reconnected while hibernating"
done
wait_for_hibernating 2

for qos in 0 1 2; do
  timeout 10 mosquitto_pub -h "$HOST" -p "$PORT" -q "$qos" -t "$TOPIC/q$qos" -m "wake $qos" || fail "mosquitto_pub at QoS $qos failed"
done

# A paho-mqtt client that hibernates, then publishes the fourth message.
timeout 30 python3 - "$PORT" "$TOPIC/paho" <<'PY' || fail "paho-mqtt publisher failed"
import sys, threading, time
import paho.mqtt.client as mqtt
port, topic = int(sys.argv[1]), sys.argv[2]
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
connected = threading.Event()
client.on_connect = lambda *args: connected.set()
client.connect("127.0.0.1", port, keepalive=2)
client.loop_start()
if not connected.wait(10): sys.exit("no CONNACK")
time.sleep(3)  # hibernates within 2 s; its pings are answered meanwhile
info = client.publish(topic, b"wake paho", qos=1)
info.wait_for_publish(10)
if not info.is_published(): sys.exit("no PUBACK")
client.disconnect()
client.loop_stop()
PY

for sub in v311 v5; do
  pid=$SUB311
  [[ $sub == v5 ]] && pid=$SUB5
  wait_for_exit "$pid" 10 || fail "the $sub subscriber did not receive 4 messages within 10 s: $(messages "$WORK/$sub" | tr '\n' ' ')"
  got=$(messages "$WORK/$sub" | sort | tr '\n' ' ')
  want=$(printf '%s\n' "0|0|$TOPIC/q0|wake 0" "1|0|$TOPIC/q1|wake 1" "1|0|$TOPIC/paho|wake paho" "2|0|$TOPIC/q2|wake 2" | sort | tr '\n' ' ')
  [[ "$got" == "$want" ]] || fail "the $sub subscriber got: $got; expected: $want"
done
