# A deployment with a password file and an ACL, as `starling passwd` and an operator write them: mosquitto_sub and
# mosquitto_pub with -u/-P, paho-mqtt with username_pw_set and MQTT.js with username/password get what the rules
# give them and nothing else; anonymous clients and wrong passwords get nothing; SIGHUP reloads both files while
# clients stay connected, and a broken file is refused with the old rules kept.
# Usage: bash auth_deployment.sh PORT PATH_TO_STARLING   (starts its own broker on PORT)
source "$(dirname "$0")/lib.sh"
STARLING=$1

PASSWORDS="$WORK/passwords"
ACL="$WORK/acl"
"$STARLING" passwd -c -b "$PASSWORDS" alice 'alice pw' || fail "starling passwd -c failed"
"$STARLING" passwd -b "$PASSWORDS" bob bob-pw || fail "starling passwd -b failed"
cat >"$ACL" <<'EOF'
user alice
topic readwrite alice/#
topic read shared/#

user bob
topic write shared/#

pattern readwrite devices/%u/#
EOF

# Signals go to the broker itself, whose pid the shell records before becoming it: `timeout` would pass on
# only the first SIGHUP.
timeout -k 5 120 bash -c 'echo $$ >"$0"; exec "$@"' "$WORK/broker.pid" \
  "$STARLING" --host "$HOST" --port "$PORT" --memory --password-file "$PASSWORDS" --acl-file "$ACL" >"$WORK/broker.log" 2>&1 &
BROKER_TIMEOUT=$!
BACKGROUND+=("$BROKER_TIMEOUT")
deadline=$((SECONDS + 30))
until timeout 2 bash -c ': </dev/tcp/127.0.0.1/$0' "$PORT" 2>/dev/null; do
  kill -0 "$BROKER_TIMEOUT" 2>/dev/null || fail "starling exited: $(tail -n 3 "$WORK/broker.log" | tr '\n' ' ')"
  ((SECONDS < deadline)) || fail "starling did not listen within 30 s"
  sleep 0.05
done
BROKER=$(cat "$WORK/broker.pid")

pub() { timeout 10 mosquitto_pub -h "$HOST" -p "$PORT" "$@" >"$WORK/pub" 2>&1; }

for version in mqttv311 mqttv5; do
  topic="shared/$version-$$"
  start_sub "$WORK/alice-$version" -V "$version" -u alice -P 'alice pw' -q 1 -t "$topic" -t 'alice/#' -v
  wait_for_suback "$WORK/alice-$version"
  pub -V "$version" -u bob -P bob-pw -q 1 -t "$topic" -m "from bob" || fail "$version: bob could not publish: $(cat "$WORK/pub")"
  wait_for_line "$WORK/alice-$version" "^MSG\|1\|0\|$topic\|from bob$" 10 || fail "$version: alice did not receive bob's message"

  # Bob may not write to alice/#: 3.1.1 drops it silently, 5.0 says 0x87; alice must not see it either way.
  pub -V "$version" -u bob -P bob-pw -q 1 -t alice/inbox -m intruder
  pub -V "$version" -u alice -P 'alice pw' -q 1 -t alice/inbox -m own || fail "$version: alice could not publish to alice/inbox"
  wait_for_line "$WORK/alice-$version" '^MSG\|1\|0\|alice/inbox\|own$' 10 || fail "$version: alice did not receive her own message"
  ! grep -q intruder "$WORK/alice-$version" || fail "$version: a message bob may not write reached alice"

  # Nothing for clients without the right credentials.
  pub -V "$version" -t "$topic" -m anonymous && fail "$version: an anonymous client could publish"
  grep -qi "not authori[sz]ed" "$WORK/pub" || fail "$version: anonymous client not refused as not authorised: $(cat "$WORK/pub")"
  pub -V "$version" -u alice -P wrong -t "$topic" -m wrong && fail "$version: a wrong password was accepted"
  timeout 10 mosquitto_sub -h "$HOST" -p "$PORT" -V "$version" -u bob -P bob-pw -t 'alice/#' -C 1 -W 3 >"$WORK/bob-sub" 2>&1
  grep -qi "denied" "$WORK/bob-sub" || fail "$version: bob's subscription to alice/# was not refused: $(tr '\n' ' ' <"$WORK/bob-sub")"
done
grep -q "login refused" "$WORK/broker.log" || fail "failed logins are not logged"

# paho-mqtt: username_pw_set, a pattern rule, and the reason codes of refusals.
python3 - "$PORT" >"$WORK/paho" 2>&1 <<'PY' || fail "paho-mqtt: $(tail -n 1 "$WORK/paho")"
import sys, threading, paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port = int(sys.argv[1])

def session(user, password, protocol):
    events = {"connack": threading.Event(), "suback": threading.Event(), "message": threading.Event()}
    state = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"paho-{user}-{protocol}", protocol=protocol)
    client.username_pw_set(user, password)
    def on_connect(c, u, flags, reason, props):
        state["connack"] = reason
        events["connack"].set()
    def on_subscribe(c, u, mid, reasons, props):
        state["suback"] = reasons
        events["suback"].set()
    def on_message(c, u, message):
        state["message"] = (message.topic, message.payload)
        events["message"].set()
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not events["connack"].wait(10):
        sys.exit(f"{user}: no CONNACK")
    return client, events, state

for protocol in (mqtt.MQTTv311, mqtt.MQTTv5):
    client, events, state = session("alice", "alice pw", protocol)
    if state["connack"].is_failure:
        sys.exit(f"alice refused: {state['connack']}")
    client.subscribe("devices/alice/#", qos=1)
    events["suback"].wait(10)
    if state["suback"][0].is_failure:
        sys.exit(f"devices/alice/# refused: {state['suback']}")
    client.publish("devices/alice/lamp", b"on", qos=1)
    if not events["message"].wait(10) or state["message"] != ("devices/alice/lamp", b"on"):
        sys.exit(f"no message on devices/alice/lamp: {state.get('message')}")
    client.disconnect()
    client.loop_stop()

    client, events, state = session("alice", "not her password", protocol)
    # paho reports the 3.1.1 return code 5 (Not authorized) as the 5.0 reason code it stands for, 0x87.
    expected = 134 if protocol == mqtt.MQTTv5 else 135
    if state["connack"].value != expected:
        sys.exit(f"a wrong password got {state['connack'].value}, expected {expected}")
    client.loop_stop()
PY

# MQTT.js (node-mqtt): username and password in the options; a wrong one ends in an error, not a connection.
export NODE_PATH=/usr/share/nodejs
node - "$PORT" >"$WORK/mqttjs" 2>&1 <<'JS' || fail "MQTT.js: $(tail -n 1 "$WORK/mqttjs")"
const mqtt = require('mqtt');
const port = Number(process.argv[2]);
const fail = (why) => { console.log(why); process.exit(1); };
setTimeout(() => fail('timed out'), 20000);
const alice = mqtt.connect({ host: '127.0.0.1', port, username: 'alice', password: 'alice pw', protocolVersion: 5, reconnectPeriod: 0 });
alice.on('error', (e) => fail(`alice: ${e.message}`));
alice.on('connect', () => {
  alice.subscribe('alice/js', { qos: 1 }, (err, granted) => {
    if (err || granted[0].qos !== 1) fail(`subscribe: ${err || JSON.stringify(granted)}`);
    alice.publish('alice/js', 'hello from MQTT.js', { qos: 1 });
  });
});
alice.on('message', (topic, payload) => {
  if (topic !== 'alice/js' || payload.toString() !== 'hello from MQTT.js') fail(`unexpected ${topic} ${payload}`);
  alice.end();
  const intruder = mqtt.connect({ host: '127.0.0.1', port, username: 'alice', password: 'guess', reconnectPeriod: 0 });
  intruder.on('connect', () => fail('a wrong password connected'));
  intruder.on('error', (e) => {
    if (!/not authori[sz]ed|bad user/i.test(e.message)) fail(`unexpected error ${e.message}`);
    intruder.end(true);
    process.exit(0);
  });
});
JS

# SIGHUP: a new user and new rules apply at once; the connected subscriber stays connected and keeps receiving.
start_sub "$WORK/steady" -V mqttv5 -u alice -P 'alice pw' -q 1 -t 'alice/#' -v
wait_for_suback "$WORK/steady"
"$STARLING" passwd -b "$PASSWORDS" carol carol-pw || fail "starling passwd could not add carol"
printf '\nuser carol\ntopic write alice/inbox\n' >>"$ACL"
pub -V mqttv5 -u carol -P carol-pw -q 1 -t alice/inbox -m early && fail "carol got in before the reload"
kill -HUP "$BROKER"
wait_for_line "$WORK/broker.log" 'ACL file reloaded' 10 || fail "no reload logged after SIGHUP"
pub -V mqttv5 -u carol -P carol-pw -q 1 -t alice/inbox -m "after reload" || fail "carol could not publish after the reload: $(cat "$WORK/pub")"
wait_for_line "$WORK/steady" '^MSG\|1\|0\|alice/inbox\|after reload$' 10 || fail "the subscriber connected before SIGHUP did not receive carol's message"

# A broken ACL file is refused: the old rules stay, and the log says why.
echo "frobnicate x" >>"$ACL"
kill -HUP "$BROKER"
wait_for_line "$WORK/broker.log" 'ACL file not reloaded' 10 || fail "a broken ACL file was not reported"
pub -V mqttv5 -u carol -P carol-pw -q 1 -t alice/inbox -m "still allowed" || fail "carol lost her rights after a broken reload"
wait_for_line "$WORK/steady" '^MSG\|1\|0\|alice/inbox\|still allowed$' 10 || fail "no delivery after a broken reload"
kill -0 "$BROKER" 2>/dev/null || fail "the broker exited"
kill -TERM "$BROKER"
wait_for_exit "$BROKER_TIMEOUT" 15 || fail "the broker did not stop cleanly on SIGTERM"
exit 0
