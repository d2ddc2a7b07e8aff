#!/usr/bin/env bash
# Runs COMMAND ARGS... with the URL of a new, empty database on the PostgreSQL server named by
# STARLING_TEST_POSTGRES_URL as its last argument; the database is dropped afterwards.
#
#   bash with_postgres_database.sh python3 crash_test.py --starling PATH --store-url
set -uo pipefail

SERVER=${STARLING_TEST_POSTGRES_URL:?needs STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start)}
DATABASE="starling_interop_$$_$RANDOM"
psql -q -X "$SERVER" -c "CREATE DATABASE $DATABASE" || exit 1
trap 'psql -q -X "$SERVER" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1' EXIT
trap 'exit 143' TERM INT
"$@" "${SERVER%/*}/$DATABASE"
