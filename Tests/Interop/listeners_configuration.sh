# The starling command's configuration: a flag wins over a STARLING_ environment variable, which wins over the
# file; a bad value stops it with exit status 78 and a message naming the key and the file.
# Usage: bash listeners_configuration.sh PATH_TO_STARLING
STARLING=$1
source "$(dirname "$0")/lib.sh" 0
read -r FILE_PORT ENV_PORT FLAG_PORT < <(python3 "$(dirname "$0")/free_ports.py" 3 | tr '\n' ' ')
printf 'listeners:\n  default:\n    host: 127.0.0.1\n    port: %s\n' "$FILE_PORT" >"$WORK/starling.yaml"

# Starts starling with the given environment and flags, waits until it listens on $1, and stops it.
listens_on() {
  local port=$1
  shift
  env "$@" --config "$WORK/starling.yaml" --memory >"$WORK/broker.log" 2>&1 &
  local pid=$!
  BACKGROUND+=("$pid")
  local found=""
  for _ in $(seq 400); do
    if timeout 1 bash -c ': </dev/tcp/127.0.0.1/$0' "$port" 2>/dev/null; then found=yes; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [[ -n "$found" ]] || fail "not listening on $port: $(tail -n 2 "$WORK/broker.log" | tr '\n' ' ')"
}

listens_on "$FILE_PORT" "$STARLING"
listens_on "$ENV_PORT" STARLING_LISTENERS_DEFAULT_PORT="$ENV_PORT" "$STARLING"
listens_on "$FLAG_PORT" STARLING_LISTENERS_DEFAULT_PORT="$ENV_PORT" "$STARLING" --port "$FLAG_PORT"

printf 'max_inflight: 20\nmax_inflihgt: 10\n' >"$WORK/bad.yaml"
"$STARLING" --config "$WORK/bad.yaml" >"$WORK/bad.out" 2>&1
status=$?
((status == 78)) || fail "expected exit status 78 for an unknown key, got $status"
grep -q "$WORK/bad.yaml (line 2): max_inflihgt: unknown key" "$WORK/bad.out" || fail "unexpected message: $(cat "$WORK/bad.out")"
