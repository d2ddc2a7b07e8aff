#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: a new cluster in a temporary folder, on a free 127.0.0.1 port,
# with its own socket folder, trusted from loopback only. Run as root it runs as the `postgres` user.
#
#   eval "$(bash Scripts/postgres-server.sh start)"   # sets STARLING_TEST_POSTGRES_URL and STARLING_TEST_POSTGRES_DIR
#   bash Scripts/postgres-server.sh pause "$STARLING_TEST_POSTGRES_DIR"   # stopped, data kept
#   bash Scripts/postgres-server.sh resume "$STARLING_TEST_POSTGRES_DIR"  # started again, same port
#   bash Scripts/postgres-server.sh stop "$STARLING_TEST_POSTGRES_DIR"
#
# Stops only the server it started (pg_ctl on its own data folder), never another one.
set -euo pipefail

bin=""
for candidate in /usr/lib/postgresql/*/bin; do
  [[ -x "$candidate/pg_ctl" ]] && bin=$candidate
done
[[ -n "$bin" ]] || { echo "PostgreSQL's server is not installed (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/starling-postgres.XXXXXX")
  mkdir -p "$dir/data" "$dir/socket"
  [[ $(id -u) == 0 ]] && chown -R postgres: "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # fsync stays on: the store's tests kill brokers and count on commits being durable.
  echo "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket -c max_connections=500" >"$dir/options"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres starling
  echo "export STARLING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/starling"
  echo "export STARLING_TEST_POSTGRES_DIR=$dir"
  ;;
pause)
  # The server stops (its clients' connections are cut), its data stays: `resume` starts it again on the same port.
  dir=${2:?the folder printed by start}
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
resume)
  dir=${2:?the folder printed by start}
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  ;;
stop)
  dir=${2:?the folder printed by start}
  [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start | pause DIR | resume DIR | stop DIR" >&2
  exit 2
  ;;
esac
