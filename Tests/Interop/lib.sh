# Shared by the shell checks in this folder; sourced, never run.
# A check is run as `bash CHECK.sh PORT ARGS...` under `timeout`: it exits 0 when it passes, otherwise it prints
# the reason as its last line and exits non-zero.

set -uo pipefail

HOST=127.0.0.1
PORT=${1:?usage: $0 PORT ...}
shift

WORK=$(mktemp -d "${TMPDIR:-/tmp}/starling-interop.XXXXXX")
BACKGROUND=()

# The processes whose parent is $1, from /proc (the kernel's own list of children is not always there).
children_of() {
  local stat line state ppid
  for stat in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$stat" || continue
    # Past the command name, which may hold spaces and parentheses.
    read -r state ppid _ <<<"${line##*) }"
    [[ $ppid == "$1" ]] && echo "${stat//[!0-9]/}"
  done
}

cleanup() {
  local pid child
  for pid in "${BACKGROUND[@]}"; do
    # A broker started under `timeout` is its child: killed alone, `timeout` would leave it running.
    for child in $(children_of "$pid"); do kill -KILL "$child" 2>/dev/null; done
    kill -KILL "$pid" 2>/dev/null
    # Reaping it here keeps bash's "Killed" notice from becoming the check's last line.
    wait "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
# `timeout` stops a check with SIGTERM; leaving through EXIT also stops the clients it started.
trap 'exit 143' TERM INT

fail() {
  echo "$*"
  exit 1
}

# A topic no other check (nor an earlier run) shares, so a stray retained message or will cannot satisfy a check.
unique_topic() {
  echo "interop/$1/$$-$RANDOM"
}

# Starts `mosquitto_sub` in the background with line-buffered output (its debug lines are what says the
# subscription is in place), records its pid in SUB_PID and its output in the file named by $1.
# Message lines are printed as `MSG|qos|retain|topic|payload`, apart from the `-d` debug lines.
start_sub() {
  local out=$1
  shift
  stdbuf -oL mosquitto_sub -d -h "$HOST" -p "$PORT" -F 'MSG|%q|%r|%t|%p' "$@" >"$out" 2>&1 &
  SUB_PID=$!
  BACKGROUND+=("$SUB_PID")
}

# Waits (at most $3 seconds, default 10) until file $1 has a line matching the extended regex $2.
wait_for_line() {
  local file=$1 pattern=$2 limit=${3:-10}
  local deadline=$((SECONDS + limit))
  until grep -Eq -- "$pattern" "$file" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# Waits for a SUBACK granting every subscription; a refused one (0x80 or a 5.0 reason >= 0x80) fails the check.
wait_for_suback() {
  local out=$1
  wait_for_line "$out" '^Subscribed \(mid: [0-9]+\):' 10 || fail "no SUBACK within 10 s; client output: $(tail -n 3 "$out" | tr '\n' ' ')"
  if grep -Eq '^Subscribed \(mid: [0-9]+\):.*\b(128|1[3-9][0-9]|2[0-9][0-9])\b' "$out"; then
    fail "subscription refused: $(grep -E '^Subscribed' "$out")"
  fi
}

# Waits up to $2 seconds for background process $1 to exit; returns its status, or 124 if it is still running.
wait_for_exit() {
  local pid=$1 limit=$2
  local deadline=$((SECONDS + limit))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || return 124
    sleep 0.05
  done
  wait "$pid"
}

messages() {
  grep -E '^MSG\|' "$1" | cut -d'|' -f2-
}

# Waits (15 s at most) for WANTED `Hello mqtt <ms>` lines in SUB_FILE, then checks the seed's output format:
# the given header lines, then a `test` line and its payload per message, stamped after STARTED_MS and increasing.
# Usage: expect_hello_messages SUB_FILE PUB_FILE STARTED_MS WANTED HEADER_LINE...
expect_hello_messages() {
  local sub=$1 pub=$2 started_ms=$3 wanted=$4
  shift 4
  local deadline=$((SECONDS + 15))
  while (($(grep -Ec '^Hello mqtt [0-9]+$' "$sub") < wanted)); do
    ((SECONDS < deadline)) || fail "fewer than $wanted messages within 15 s; subscriber: $(tr '\n' ' ' <"$sub" | head -c 300) publisher: $(tr '\n' ' ' <"$pub" | head -c 200)"
    sleep 0.1
  done
  [[ "$(head -n 1 "$pub")" == "connected!" ]] || fail "publisher's first line is not 'connected!': $(head -n 1 "$pub")"
  python3 - "$sub" "$started_ms" "$@" <<'PY' || exit 1
import re, sys
lines = open(sys.argv[1]).read().splitlines()
started = int(sys.argv[2])
header = sys.argv[3:]
if lines[:len(header)] != header:
    sys.exit(f"subscriber output should begin {header}; got {lines[:len(header)]}")
body = lines[len(header):]
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
}
