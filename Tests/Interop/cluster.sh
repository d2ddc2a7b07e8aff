#!/usr/bin/env bash
# Three `starling` nodes as one broker (cluster_test.py) on a new database of the PostgreSQL server named by
# STARLING_TEST_POSTGRES_URL; the database is dropped afterwards.
#
#   bash cluster.sh PATH_TO_STARLING
set -uo pipefail

STARLING=$(realpath "${1:?usage: $0 PATH_TO_STARLING}")
HERE=$(cd "$(dirname "$0")" && pwd)
SERVER=${STARLING_TEST_POSTGRES_URL:?needs STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start)}
DATABASE="starling_cluster_$$_$RANDOM"
psql -q -X "$SERVER" -c "CREATE DATABASE $DATABASE" || exit 1
trap 'psql -q -X "$SERVER" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1' EXIT
trap 'exit 143' TERM INT

cd "$HERE" && python3 cluster_test.py --starling "$STARLING" --postgres "${SERVER%/*}/$DATABASE"
