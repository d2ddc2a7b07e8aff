#!/usr/bin/env bash
# `starling ctl` against a running broker: stats, clients, one client, kick, retained, in text and JSON.
#
#   bash Tests/Operations/ctl.sh PATH_TO_STARLING http://127.0.0.1:HTTPPORT MQTTPORT
set -euo pipefail
starling=$1
http=$2
port=$3
id="ctl-$$-$RANDOM"
fail() {
  echo "FAIL ctl: $*"
  exit 1
}
stats=$("$starling" ctl stats --http "$http") || fail "ctl stats exited $?"
grep -q '^connections ' <<<"$stats" || fail "ctl stats printed no connections line: $stats"
mosquitto_pub -p "$port" -t "ctl/$id" -m "kept by ctl" -r -q 1 || fail "mosquitto_pub failed"
mosquitto_sub -p "$port" -V mqttv5 -i "$id" -t "ctl/$id/+" -q 1 -x 600 -W 30 >/dev/null 2>&1 &
sub=$!
trap 'kill "$sub" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  "$starling" ctl clients --http "$http" --prefix "$id" --connected | grep -q "^$id " && break
  sleep 0.05
done
"$starling" ctl clients --http "$http" --prefix "$id" | grep -q "^$id  *connected" || fail "ctl clients does not list $id as connected"
"$starling" ctl client "$id" --http "$http" | grep -q "ctl/$id/+ (QoS 1)" || fail "ctl client does not show the subscription"
"$starling" ctl clients --http "$http" --prefix "$id" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["total"] == 1 else 1)' \
  || fail "ctl clients --json is not the API's page"
"$starling" ctl retained --http "$http" --pattern "ctl/$id" | grep -q "kept by ctl" || fail "ctl retained does not show the message"
"$starling" ctl kick "$id" --http "$http" | grep -q "disconnected" || fail "ctl kick did not disconnect $id"
# mosquitto_sub ends when the broker disconnects it.
for _ in $(seq 1 200); do
  kill -0 "$sub" 2>/dev/null || break
  sleep 0.05
done
kill -0 "$sub" 2>/dev/null && fail "mosquitto_sub still runs after the kick"
if "$starling" ctl client nobody-$id --http "$http" 2>"${TMPDIR:-/tmp}/ctl-$id.err"; then fail "ctl client of an unknown client exited 0"; fi
grep -q "no session" "${TMPDIR:-/tmp}/ctl-$id.err" || fail "ctl client of an unknown client said: $(cat "${TMPDIR:-/tmp}/ctl-$id.err")"
rm -f "${TMPDIR:-/tmp}/ctl-$id.err"
echo "PASS ctl"
