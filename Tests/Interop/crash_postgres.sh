#!/usr/bin/env bash
# Durability of the PostgreSQL store: crash_test.py's SIGKILL loop with the broker's state in a new database on the
# server named by STARLING_TEST_POSTGRES_URL (no acknowledged message lost, no QoS 2 message twice, retained
# messages and session expiry across restarts). The database is dropped afterwards.
#
#   bash crash_postgres.sh PATH_TO_STARLING [KILLS]
set -uo pipefail

STARLING=${1:?usage: $0 PATH_TO_STARLING [KILLS]}
KILLS=${2:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=${STARLING_TEST_POSTGRES_URL:?needs STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start)}
DATABASE="starling_crash_$$_$RANDOM"
psql -q -X "$SERVER" -c "CREATE DATABASE $DATABASE" || exit 1
trap 'psql -q -X "$SERVER" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1' EXIT
trap 'exit 143' TERM INT

python3 "$HERE/crash_test.py" --starling "$STARLING" --kills "$KILLS" --seconds 60 --store-url "${SERVER%/*}/$DATABASE"
