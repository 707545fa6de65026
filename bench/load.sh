#!/usr/bin/env bash
# HTTP load test of sessionward, on 127.0.0.1 only, every run bounded.
#
# Builds the demo, the hand-written baseline and sessionward-core in release mode, logs in
# once per transfer mode on each kind of server, then for each round measures with wrk, in one
# run of this script:
#   demo, verified-token cache on:  GET /health (no guard), GET /user (guard, the session as
#       JSON) and GET /optional (guard, a body as small as /health's), header and cookie mode
#   demo-axum (the same demo on axum), cache on: the same six
#   demo, verified-token cache off: the same six
#   baseline (jsonwebtoken per request, no sessionward): GET /health and GET /user
#   supertokens-node 24.0.3 on express (bench/node/server.js: `verifySession()`, same routes
#       and bodies as the demo, NODE_WORKERS cluster workers) whose SuperTokens Core is
#       sessionward-core: the same six
# and prints req/s, p50, p99 and the ratios the targets are about (sessionward's /user
# against supertokens-node's among them); writes bench/results.tsv and the chart
# bench/results.svg (bench/chart.py, no network).
#
# Every server is started alone, except two kinds of pair whose idle half costs nothing: the
# actix-web demo and demo-axum (cache on) run side by side and are measured in interleaved
# slices, so that their ratio, like a ratio within one server, compares the same minutes of the
# machine; and the core stays up, idle, while supertokens-node runs (it verifies access tokens
# itself with the core's JWKS, so the core does no work while /user is loaded). Each server is
# warmed up with WARMUP seconds of wrk on /user and checked with one request before each
# measured run: a route that does not answer 200 stops the script, and a run with non-2xx
# responses (a 401 flood would fake a high req/s) is flagged and makes the script exit 1 once
# the table and chart are written.
#
# Usage: bash bench/load.sh                  (1 round, 10 s per route: about 6.5 minutes after the build)
#        ROUNDS=3 DURATION=10 bash bench/load.sh
#        NODE=0 bash bench/load.sh           (without supertokens-node: about 5 minutes)
# Environment: ROUNDS (1), DURATION seconds per route and round (10), SLICES (5: the
#              DURATION is measured as 5 interleaved runs of 2 s), CONNECTIONS (32), THREADS (1),
#              WARMUP seconds per server start (2; 0: none), OUT (bench/results),
#              SKIP_BUILD=1 to reuse target/release binaries,
#              NODE (1; 0 skips supertokens-node), NODE_WORKERS (nproc: as many as the demo's
#              actix-web workers), NODE_BASE=http://127.0.0.1:<port> to measure a backend that
#              is already running instead of starting sessionward-core and bench/node (it
#              needs the same routes: POST /login, GET /health, /user, /optional).
# Needs: wrk (installed from the Debian package if missing), curl, python3, cargo; for
# supertokens-node, Node >= 20 with npm (`npm ci` in bench/node, from the npm registry, if its
# node_modules is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=${ROUNDS:-1}
DURATION=${DURATION:-10}
SLICES=${SLICES:-5}
SLICE_SECS=$(( DURATION / SLICES > 0 ? DURATION / SLICES : 1 ))
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WARMUP=${WARMUP:-2}
OUT=${OUT:-bench/results}
NODE=${NODE:-1}
NODE_BASE=${NODE_BASE:-}
NODE_WORKERS=${NODE_WORKERS:-$(nproc)}
NODE_NAME=supertokens-node

# What runs of supertokens-node: "start" (sessionward-core + bench/node), "external"
# (NODE_BASE) or "" (none).
if [ -n "$NODE_BASE" ]; then
  case "$NODE_BASE" in
    http://127.0.0.1:[0-9]*) NODE_MODE=external ;;
    *) echo "NODE_BASE must be http://127.0.0.1:<port>" >&2; exit 2 ;;
  esac
elif [ "$NODE" = 0 ]; then
  NODE_MODE=""
else
  NODE_MODE=start
fi

ensure_wrk

if [ "$NODE_MODE" = start ]; then
  for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "supertokens-node needs Node >= 20 with npm ($tool not found); NODE=0 skips it" >&2
      exit 1
    }
  done
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "supertokens-node needs Node >= 20 (found $(node --version)); NODE=0 skips it" >&2
    exit 1
  fi
  if [ ! -d bench/node/node_modules/supertokens-node ]; then
    echo "== npm ci in bench/node (supertokens-node 24.0.3, express 4.21.2, from package-lock.json)" >&2
    (cd bench/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  fi
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bins=(--bin demo --bin demo-axum --bin baseline)
  [ "$NODE_MODE" = start ] && bins+=(--bin sessionward-core)
  echo "== building ${bins[*]//--bin /} (release)" >&2
  cargo build --release --locked -q -p sessionward-examples "${bins[@]}"
fi
TARGET_DIR=$(target_dir)
DEMO=$TARGET_DIR/release/demo
DEMO_AXUM=$TARGET_DIR/release/demo-axum
BASELINE=$TARGET_DIR/release/baseline
CORE=$TARGET_DIR/release/sessionward-core

WORK=$(mktemp -d)
SERVER_PID=""
CORE_PID=""
# The servers start_pair runs side by side: names, addresses, process ids.
PAIR_NAMES=()
PAIR_ADDRS=()
PAIR_PIDS=()
# stop PIDVAR: stops the process whose id is in the variable PIDVAR, if any.
stop() {
  local pid=${!1}
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    printf -v "$1" %s ""
  fi
}
stop_server() {
  local pid
  # With a pair running, SERVER_PID is one of the pair's (stopping it twice is harmless).
  stop SERVER_PID
  for pid in "${PAIR_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PAIR_NAMES=()
  PAIR_ADDRS=()
  PAIR_PIDS=()
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_server
  stop CORE_PID
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn NAME PIDVAR [VAR=value...] COMMAND [ARG...]: starts COMMAND with PORT=0 (and the
# variables) in the background, stores its id in PIDVAR, waits until it prints
# `listening on http://127.0.0.1:<port>` and sets ADDR to 127.0.0.1:<port>.
spawn() {
  local name=$1 pidvar=$2
  shift 2
  env PORT=0 RUST_LOG=warn "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  printf -v "$pidvar" %s "$!"
  await_address "$name" "${!pidvar}"
}

# start_server NAME [VAR=value...] COMMAND [ARG...]: stops the running server, starts this one
# (the demo's DATA_DIR: every demo shares the sessions logged in below) and sets ADDR.
start_server() {
  local name=$1
  shift
  stop_server
  CURRENT=$name
  spawn "$name" SERVER_PID DATA_DIR="$WORK/data" "$@"
}

# start_pair NAME [VAR=value...] COMMAND [ARG...] -- NAME2 [VAR=value...] COMMAND2 [ARG...]:
# stops the running server and starts both (as start_server would, the demo's DATA_DIR
# included), each warmed up; `use NAME` then makes one of them the server measured.
start_pair() {
  local spec
  stop_server
  while [ $# -gt 0 ]; do
    spec=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      spec+=("$1")
      shift
    done
    [ $# -gt 0 ] && shift
    CURRENT=${spec[0]}
    spawn "$CURRENT" SERVER_PID DATA_DIR="$WORK/data" "${spec[@]:1}"
    warm_up
    PAIR_NAMES+=("$CURRENT")
    PAIR_ADDRS+=("$ADDR")
    PAIR_PIDS+=("$SERVER_PID")
    SERVER_PID=""
  done
}

# use NAME: makes NAME, one of the servers start_pair started, the one run and check_alive see.
use() {
  local i
  for i in "${!PAIR_NAMES[@]}"; do
    if [ "${PAIR_NAMES[$i]}" = "$1" ]; then
      CURRENT=$1
      ADDR=${PAIR_ADDRS[$i]}
      SERVER_PID=${PAIR_PIDS[$i]}
      return 0
    fi
  done
  echo "use: $1 is not running" >&2
  exit 1
}

# start_node: starts bench/node/server.js against the core (started once) and sets ADDR; with
# NODE_BASE, only points ADDR at it.
start_node() {
  if [ "$NODE_MODE" = external ]; then
    stop_server
    CURRENT=$NODE_NAME
    ADDR=${NODE_BASE#http://}
    ADDR=${ADDR%/}
    return
  fi
  if [ -z "$CORE_PID" ]; then
    CORE_API_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    spawn sessionward-core CORE_PID DATA_DIR="$WORK/core-data" API_KEY="$CORE_API_KEY" "$CORE"
    CORE_URI=http://$ADDR
  fi
  start_server "$NODE_NAME" NODE_ENV=production NODE_WORKERS="$NODE_WORKERS" \
    CORE_URI="$CORE_URI" CORE_API_KEY="$CORE_API_KEY" node "$PWD/bench/node/server.js"
}

# login MODE: prints the access token of a new session on $ADDR (`header` or `cookie` transfer).
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

# request_header MODE: the header that carries the token in MODE, for the current server.
request_header() {
  local token
  if [ "$CURRENT" = "$NODE_NAME" ]; then
    if [ "$1" = header ]; then token=$NODE_TOKEN_HEADER; else token=$NODE_TOKEN_COOKIE; fi
  else
    if [ "$1" = header ]; then token=$TOKEN_HEADER; else token=$TOKEN_COOKIE; fi
  fi
  if [ "$1" = header ]; then
    echo "authorization: Bearer $token"
  else
    echo "cookie: sAccessToken=$token"
  fi
}

# check_alive: fails if the server started for this run has exited.
check_alive() {
  if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "$CURRENT exited during the run:" >&2
    tail -n 20 "$WORK/$CURRENT.err" >&2
    exit 1
  fi
}

# warm_up: WARMUP seconds of the same load on /user (header mode), not recorded; lets V8
# optimise supertokens-node's hot path and fills the caches, on every server alike.
warm_up() {
  [ "$WARMUP" -gt 0 ] || return 0
  timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" \
    -H "$(request_header header)" "http://$ADDR/user" >/dev/null
  check_alive
}

RESULTS=$OUT.tsv
FLAGGED=$WORK/flagged
: >"$FLAGGED"
mkdir -p "$(dirname "$OUT")"
printf 'round\tserver\tmode\tpath\trps\tp50_ms\tp99_ms\tnon2xx\tsocket_errors\tcpu_us\n' >"$RESULTS"
CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PID: user + system CPU time, in clock ticks, of PID and its children (the
# cluster workers of supertokens-node); empty without a PID (NODE_BASE: a server not ours).
cpu_ticks() {
  local pid=$1 total=0 child
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 0
  for child in "$pid" $(pgrep -P "$pid" || true); do
    # Fields 14 and 15 of /proc/PID/stat; the command name (field 2) may hold spaces.
    total=$(( total + $(sed 's/.*) //' "/proc/$child/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0) ))
  done
  echo "$total"
}

# run ROUND SERVER MODE PATH: one bounded wrk run of $SLICE_SECS seconds against $ADDR;
# appends a row.
run() {
  local round=$1 server=$2 mode=$3 path=$4 header status
  header=$(request_header "$mode")
  # One request first: a guard that answers 401 (wrong token, wrong core) stops the script
  # instead of measuring how fast the server refuses.
  status=$(curl -sS --max-time 10 -o "$WORK/check.body" -w '%{http_code}' -H "$header" "http://$ADDR$path") || status=000
  if [ "$status" != 200 ]; then
    echo "$server $mode $path answered $status instead of 200:" >&2
    head -c 500 "$WORK/check.body" >&2 || true
    echo >&2
    exit 1
  fi
  # The same header on /health too, so both requests are the same size. The server's CPU time
  # over the run, per request, is the figure a noisy neighbour disturbs least.
  local cpu_before cpu_after
  cpu_before=$(cpu_ticks "$SERVER_PID")
  timeout $((SLICE_SECS + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SLICE_SECS}s" --latency \
    -H "$header" "http://$ADDR$path" >"$WORK/wrk.out"
  cpu_after=$(cpu_ticks "$SERVER_PID")
  check_alive
  python3 - "$WORK/wrk.out" "$FLAGGED" "$round" "$server" "$mode" "$path" \
    "$cpu_before" "$cpu_after" "$CLK_TCK" >>"$RESULTS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
cpu_before, cpu_after, clk_tck = sys.argv[7:10]
def ms(value):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
# wrk prints these two lines only when there are some: status >= 400 (401 included), and
# connect/read/write/timeout errors.
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
non2xx = int(bad.group(1)) if bad else 0
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
requests = int(re.search(r"(\d+) requests in", text).group(1))
cpu_us = ""
if cpu_before and cpu_after and requests:
    cpu_us = f"{(int(cpu_after) - int(cpu_before)) * 1e6 / int(clk_tck) / requests:.2f}"
row = sys.argv[3:7] + [f"{rps:.0f}", f"{p50:.3f}", f"{p99:.3f}", str(non2xx), str(socket_errors), cpu_us]
print("\t".join(row))
if non2xx or socket_errors:
    note = f"{' '.join(sys.argv[3:7])}: {non2xx} non-2xx, {errors.group(0) if errors else 'no socket errors'}"
    print(f"warning: {note}", file=sys.stderr)
    with open(sys.argv[2], "a") as f:
        f.write(("NON2XX " if non2xx else "SOCKET ") + note + "\n")
PY
  tail -n1 "$RESULTS" | awk -F'\t' '{printf "  %-16s %-6s %-9s %8s req/s  p50 %7s ms  p99 %7s ms  cpu %6s us/req%s\n", $2, $3, $4, $5, $6, $7, $10, ($8 > 0 ? "  !! " $8 " non-2xx" : "")}' >&2
}

# measure ROUND SERVER MODE PATH...: DURATION seconds per path, as SLICES runs interleaved
# across the paths (health, user, optional, health, user, ...), so that a neighbour's burst on
# a shared machine hits every path of a ratio alike instead of one whole run. bench/chart.py
# merges the slices of a round: mean req/s, median p50, highest p99.
measure() {
  local round=$1 server=$2 mode=$3 _slice path
  shift 3
  for _slice in $(seq 1 "$SLICES"); do
    for path in "$@"; do
      run "$round" "$server" "$mode" "$path"
    done
  done
}

# measure_pair ROUND MODE PATH...: as measure, for both servers of start_pair, each path run on
# one server right after the other (health on both, user on both, ...).
measure_pair() {
  local round=$1 mode=$2 _slice path name
  shift 2
  for _slice in $(seq 1 "$SLICES"); do
    for path in "$@"; do
      for name in "${PAIR_NAMES[@]}"; do
        use "$name"
        run "$round" "$name" "$mode" "$path"
      done
    done
  done
}

load() { echo "load average:$(uptime | sed 's/.*load average://')" >&2; }
load

# ---- sessions: one login per transfer mode per kind of server, reused by every round ----------
# login_both PREFIX NAME: logs in on the running server NAME in both modes and sets
# ${PREFIX}_HEADER and ${PREFIX}_COOKIE to the access tokens; stops the script if one is missing.
login_both() {
  local header cookie
  header=$(login header)
  cookie=$(login cookie)
  if [ -z "$header" ] || [ -z "$cookie" ]; then
    echo "login on $2 ($ADDR) failed" >&2
    exit 1
  fi
  printf -v "$1_HEADER" '%s' "$header"
  printf -v "$1_COOKIE" '%s' "$cookie"
}

start_server login "$DEMO"
login_both TOKEN demo
stop_server
if [ -n "$NODE_MODE" ]; then
  start_node
  login_both NODE_TOKEN "$NODE_NAME"
  stop_server
  [ "$NODE_MODE" = start ] && echo "== $NODE_NAME: $NODE_WORKERS cluster workers, core sessionward-core at $CORE_URI" >&2
fi

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS (wrk -t$THREADS -c$CONNECTIONS, ${SLICES} x ${SLICE_SECS}s per route)" >&2
  load
  start_pair cache-on VERIFIED_TOKEN_CACHE=on "$DEMO" -- axum VERIFIED_TOKEN_CACHE=on "$DEMO_AXUM"
  for mode in header cookie; do
    measure_pair "$round" "$mode" /health /user /optional
  done
  start_server cache-off VERIFIED_TOKEN_CACHE=off "$DEMO"
  warm_up
  for mode in header cookie; do
    measure "$round" cache-off "$mode" /health /user /optional
  done
  start_server baseline "$BASELINE"
  warm_up
  for mode in header cookie; do
    measure "$round" baseline "$mode" /health /user
  done
  stop_server
  if [ -n "$NODE_MODE" ]; then
    start_node
    warm_up
    for mode in header cookie; do
      measure "$round" "$NODE_NAME" "$mode" /health /user /optional
    done
    stop_server
  fi
done
load

python3 bench/chart.py "$RESULTS" "$OUT.svg"

if [ -s "$FLAGGED" ]; then
  echo >&2
  if grep -q '^NON2XX' "$FLAGGED"; then
    echo "!! runs with non-2xx responses: their req/s count refusals, not served requests" >&2
  fi
  sed 's/^[A-Z0-9]* /   /' "$FLAGGED" >&2
  grep -q '^NON2XX' "$FLAGGED" && exit 1
fi
exit 0
