#!/usr/bin/env bash
# HTTP load test of session-guard (issue 7), on 127.0.0.1 only, every run bounded.
#
# Builds the demo and the hand-written baseline in release mode, logs in once per transfer
# mode, then for each round measures with wrk, in one run of this script:
#   demo, verified-token cache on:  GET /health (no guard), GET /user (guard, the session as
#       JSON) and GET /optional (guard, a body as small as /health's), header and cookie mode
#   demo, verified-token cache off: the same six
#   baseline (jsonwebtoken per request, no session-guard): GET /health and GET /user
# and prints req/s, p50, p99 and the ratios the targets are about; writes
# bench/results.tsv and the chart bench/results.svg (bench/chart.py, no network).
#
# Usage: bash bench/load.sh                  (1 round of 10 s runs: about 3.5 minutes)
#        ROUNDS=3 DURATION=10 bash bench/load.sh
# Environment: ROUNDS (1), DURATION seconds per run (10), CONNECTIONS (32), THREADS (1),
#              OUT (bench/results), SKIP_BUILD=1 to reuse target/release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
OUT=${OUT:-bench/results}
HOST=127.0.0.1

if ! command -v wrk >/dev/null 2>&1; then
  echo "== installing wrk (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else
    sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building demo and baseline (release)" >&2
  cargo build --release --locked -q -p session-guard-examples --bin demo --bin baseline
fi
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
DEMO=$TARGET_DIR/release/demo
BASELINE=$TARGET_DIR/release/baseline

WORK=$(mktemp -d)
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME BINARY [VAR=value...]: starts it on a free port of 127.0.0.1 and sets ADDR.
start_server() {
  local name=$1 binary=$2
  shift 2
  stop_server
  env PORT=0 DATA_DIR="$WORK/data" RUST_LOG=warn "$@" "$binary" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SERVER_PID=$!
  ADDR=""
  for _ in $(seq 1 300); do
    ADDR=$(sed -n 's#^listening on http://\(127\.0\.0\.1:[0-9]*\)$#\1#p' "$WORK/$name.out" | head -n1)
    [ -n "$ADDR" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$name exited:" >&2
      cat "$WORK/$name.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ -z "$ADDR" ]; then
    echo "$name did not start within 30 s" >&2
    exit 1
  fi
}

# login MODE: prints the access token of a new session (`header` or `cookie` transfer).
login() {
  local headers=$WORK/login-$1.headers
  curl -sS --max-time 10 -o /dev/null -D "$headers" -X POST "http://$ADDR/login" \
    -H "st-auth-mode: $1" -H 'content-type: application/json' -d '{"userId":"bench"}'
  if [ "$1" = header ]; then
    sed -n 's/^st-access-token: *\([^[:space:]]*\).*$/\1/Ip' "$headers" | head -n1
  else
    sed -n 's/^set-cookie: *sAccessToken=\([^;[:space:]]*\).*$/\1/Ip' "$headers" | head -n1
  fi
}

# request_header MODE: the header that carries the token in MODE.
request_header() {
  if [ "$1" = header ]; then
    echo "authorization: Bearer $TOKEN_HEADER"
  else
    echo "cookie: sAccessToken=$TOKEN_COOKIE"
  fi
}

RESULTS=$OUT.tsv
mkdir -p "$(dirname "$OUT")"
printf 'round\tserver\tmode\tpath\trps\tp50_ms\tp99_ms\tnon2xx\n' >"$RESULTS"

# run ROUND SERVER MODE PATH: one bounded wrk run against $ADDR; appends a row.
run() {
  local round=$1 server=$2 mode=$3 path=$4 header
  header=$(request_header "$mode")
  # The same header on /health too, so both requests are the same size.
  timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
    -H "$header" "http://$ADDR$path" >"$WORK/wrk.out"
  python3 - "$WORK/wrk.out" "$round" "$server" "$mode" "$path" >>"$RESULTS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(value):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors:.*", text)
print("\t".join(sys.argv[2:6] + [f"{rps:.0f}", f"{p50:.3f}", f"{p99:.3f}", bad.group(1) if bad else "0"]))
if bad or errors:
    print(f"warning: {sys.argv[3]} {sys.argv[4]} {sys.argv[5]}: {bad.group(0) if bad else ''} {errors.group(0) if errors else ''}", file=sys.stderr)
PY
  tail -n1 "$RESULTS" | awk -F'\t' '{printf "  %-9s %-6s %-7s %8s req/s  p50 %7s ms  p99 %7s ms\n", $2, $3, $4, $5, $6, $7}' >&2
}

# ---- sessions: one login per transfer mode, reused by every server (same data directory) ----
start_server login "$DEMO"
TOKEN_HEADER=$(login header)
TOKEN_COOKIE=$(login cookie)
if [ -z "$TOKEN_HEADER" ] || [ -z "$TOKEN_COOKIE" ]; then
  echo "login failed" >&2
  exit 1
fi
stop_server

# ---- HOOK: supertokens-node comparison ----------------------------------------------------
# Once `session-guard-core` exists, start supertokens-node backed by it here (on 127.0.0.1,
# bounded like the servers above), log in there, and add `run "$round" node MODE PATH` rows;
# bench/chart.py and the summary below pick up any server name. Until then a node backend
# already running on this machine can be measured with NODE_BASE=http://127.0.0.1:<port>.
node_hook() {
  local round=$1
  [ -n "${NODE_BASE:-}" ] || return 0
  case "$NODE_BASE" in http://127.0.0.1:*) ;; *) echo "NODE_BASE must be on 127.0.0.1" >&2; return 0 ;; esac
  local saved=$ADDR saved_header=$TOKEN_HEADER
  ADDR=${NODE_BASE#http://}
  TOKEN_HEADER=$(login header)
  run "$round" node header /user
  ADDR=$saved
  TOKEN_HEADER=$saved_header
}
# --------------------------------------------------------------------------------------------

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS (wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s)" >&2
  start_server cache-on "$DEMO" VERIFIED_TOKEN_CACHE=on
  for mode in header cookie; do
    run "$round" cache-on "$mode" /health
    run "$round" cache-on "$mode" /user
    run "$round" cache-on "$mode" /optional
  done
  start_server cache-off "$DEMO" VERIFIED_TOKEN_CACHE=off
  for mode in header cookie; do
    run "$round" cache-off "$mode" /health
    run "$round" cache-off "$mode" /user
    run "$round" cache-off "$mode" /optional
  done
  start_server baseline "$BASELINE"
  for mode in header cookie; do
    run "$round" baseline "$mode" /health
    run "$round" baseline "$mode" /user
  done
  stop_server
  node_hook "$round"
done

python3 bench/chart.py "$RESULTS" "$OUT.svg"
