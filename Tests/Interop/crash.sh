#!/usr/bin/env bash
# Durability of the SQLite store: the SIGKILL loop of crash_test.py (no acknowledged message lost, no QoS 2 message
# twice, retained messages and session expiry across restarts), then a damaged and a foreign database file, which
# must each stop `starling` at start with a clear error rather than a crash.
#
#   bash crash.sh PATH_TO_STARLING [KILLS]
set -uo pipefail

STARLING=${1:?usage: $0 PATH_TO_STARLING [KILLS]}
KILLS=${2:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/starling-crash.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 143' TERM INT

fail() {
  echo "$*"
  exit 1
}

python3 "$HERE/crash_test.py" --starling "$STARLING" --kills "$KILLS" --seconds 80 || exit 1

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# refused_at_start NAME EXPECTED_TEXT: starling, started on $WORK/NAME, must exit non-zero saying EXPECTED_TEXT.
refused_at_start() {
  local name=$1 expected=$2 status
  timeout -k 5 20 "$STARLING" --host 127.0.0.1 --port "$port" --data-dir "$WORK/$name" >"$WORK/$name.log" 2>&1
  status=$?
  ((status == 124 || status == 137)) && fail "$name database: starling still running after 20 s"
  ((status == 0)) && fail "$name database: starling exited 0"
  ((status >= 128)) && fail "$name database: starling died of signal $((status - 128)): $(tail -n 1 "$WORK/$name.log")"
  grep -q "$expected" "$WORK/$name.log" || fail "$name database: no \"$expected\" in: $(tail -n 1 "$WORK/$name.log")"
  echo "$name database refused: $(grep -o "$expected.*" "$WORK/$name.log" | head -n 1 | cut -c1-100)"
}

mkdir -p "$WORK/damaged" "$WORK/foreign"
head -c 65536 /dev/urandom >"$WORK/damaged/starling.db"
refused_at_start damaged "not a readable SQLite database"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"); c.commit()' \
  "$WORK/foreign/starling.db"
refused_at_start foreign "SQLite database of another application"
