# Sourced by the cluster scripts in this folder: a new database on the PostgreSQL server named by
# STARLING_TEST_POSTGRES_URL (Scripts/postgres-server.sh start) and two `starling` nodes on it, a and b, on free
# loopback ports A and B; WORK, a folder for the run's files. Everything started goes at exit.
#
#   STARLING=path; source cluster-lib.sh; start_cluster_nodes NAME_PREFIX; … ; register PID (to stop at exit)

SERVER=${STARLING_TEST_POSTGRES_URL:?needs STARLING_TEST_POSTGRES_URL}
pids=()

register() { pids+=("$@"); }

stop_cluster() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -X "$SERVER" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_cluster_nodes() {
  DATABASE="${1}_$$"
  psql -q -X "$SERVER" -c "CREATE DATABASE $DATABASE"
  URL="${SERVER%/*}/$DATABASE"
  WORK=$(mktemp -d)
  trap stop_cluster EXIT
  A=$(free_port); B=$(free_port)
  for node in "a:$A" "b:$B"; do
    timeout 600 "$STARLING" --host 127.0.0.1 --port "${node#*:}" --cluster "$URL" --node "${node%%:*}" --log-level warning \
      --max-queued 1000000 >"$WORK/${node%%:*}.log" 2>&1 &
    register $!
  done
  sleep 4
}
