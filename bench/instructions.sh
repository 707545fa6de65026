#!/usr/bin/env bash
# Instructions and allocations per request of the release demos, counted with valgrind's
# callgrind (this VM exposes no hardware counters, and counts do not move with the machine's
# speed as times do), on 127.0.0.1 only, every run bounded.
#
# For each demo: starts it under callgrind (verified-token cache on), logs in once in MODE,
# warms each path up with wrk, then per path zeroes the counters, runs wrk for SECS seconds,
# dumps, and prints instructions per request and Rust heap allocations per request. Counts cover every
# thread of the server; the first request of a path (and valgrind's own start) is outside them.
#
# Usage: bash bench/instructions.sh                 (demo and demo-axum, /health and /user:
#                                                    about 3 minutes after the build)
#        DEMOS="demo-axum" PATHS="/user" bash bench/instructions.sh
#        MODE=cookie bash bench/instructions.sh     (the token in the sAccessToken cookie)
# Environment: DEMOS (demo demo-axum), PATHS (/health /user), MODE (header or cookie: how the
#              access token travels; header), SECS per path (5), CONNECTIONS (4),
#              SKIP_BUILD=1 to reuse target/release binaries, OUT (a directory to keep the
#              callgrind files in, for callgrind_annotate; default: none kept).
# Needs: valgrind and wrk (installed from the Debian packages if missing), curl, cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

DEMOS=${DEMOS:-demo demo-axum}
PATHS=${PATHS:-/health /user}
SECS=${SECS:-5}
CONNECTIONS=${CONNECTIONS:-4}
MODE=${MODE:-header}
case "$MODE" in
  header | cookie) ;;
  *)
    echo "MODE must be header or cookie, not $MODE" >&2
    exit 2
    ;;
esac
OUT=${OUT:-}

ensure_wrk
ensure_tool valgrind

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bins=()
  for demo in $DEMOS; do bins+=(--bin "$demo"); done
  echo "== building $DEMOS (release)" >&2
  cargo build --release --locked -q -p sessionward-examples "${bins[@]}"
fi
TARGET_DIR=$(target_dir)

WORK=$(mktemp -d)
SERVER_PID=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -z "$OUT" ] || mkdir -p "$OUT"

printf '%-10s %-9s %9s %14s %12s\n' demo path requests 'instr/request' 'allocs/req'
for demo in $DEMOS; do
  env PORT=0 RUST_LOG=warn DATA_DIR="$WORK/$demo-data" VERIFIED_TOKEN_CACHE=on \
    valgrind --tool=callgrind --callgrind-out-file="$WORK/$demo.cg" \
    "$TARGET_DIR/release/$demo" >"$WORK/$demo.out" 2>"$WORK/$demo.err" &
  SERVER_PID=$!
  await_address "$demo" "$SERVER_PID"
  login=$(curl -sS --max-time 60 -o /dev/null -D - -X POST "http://$ADDR/login" \
    -H "st-auth-mode: $MODE" -H 'content-type: application/json' -d '{"userId":"bench"}')
  if [ "$MODE" = header ]; then
    token=$(sed -n 's/^st-access-token: *\([^[:space:]]*\).*$/\1/Ip' <<<"$login" | head -n1)
    header="authorization: Bearer $token"
  else
    token=$(sed -n 's/^set-cookie: *sAccessToken=\([^;[:space:]]*\).*$/\1/Ip' <<<"$login" | head -n1)
    header="cookie: sAccessToken=$token"
  fi
  if [ -z "$token" ]; then
    echo "login on $demo failed" >&2
    exit 1
  fi
  for path in $PATHS; do
    timeout 120 wrk -t1 -c"$CONNECTIONS" -d3s -H "$header" "http://$ADDR$path" >/dev/null
  done
  dump=0
  for path in $PATHS; do
    status=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -H "$header" "http://$ADDR$path")
    if [ "$status" != 200 ]; then
      echo "$demo $path answered $status instead of 200" >&2
      exit 1
    fi
    callgrind_control -z "$SERVER_PID" >/dev/null 2>&1
    timeout $((SECS + 120)) wrk -t1 -c"$CONNECTIONS" -d"${SECS}s" -H "$header" \
      "http://$ADDR$path" >"$WORK/wrk.out"
    dump=$((dump + 1))
    callgrind_control -d "path$dump" "$SERVER_PID" >/dev/null 2>&1
    file=$(ls -t "$WORK/$demo.cg"* | head -n1)
    [ -z "$OUT" ] || cp "$file" "$OUT/$demo${path//\//-}.cg"
    python3 - "$file" "$WORK/wrk.out" "$demo" "$path" <<'PY'
import re, sys
cg, wrk, demo, path = sys.argv[1:5]
text = open(wrk).read()
if re.search(r"Non-2xx or 3xx responses", text):
    sys.exit(f"{demo} {path}: non-2xx responses during the run")
requests = int(re.search(r"(\d+) requests in", text).group(1))
total = mallocs = 0
names, callee = {}, None
for line in open(cg):
    if line.startswith(("summary:", "totals:")) and not total:
        total = int(line.split()[1])
    elif line.startswith("cfn="):
        m = re.match(r"cfn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
        if m.group(2):
            names[m.group(1)] = m.group(2)
        callee = names.get(m.group(1))
    elif line.startswith("fn="):
        m = re.match(r"fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
        if m.group(2):
            names[m.group(1)] = m.group(2)
    elif line.startswith("calls=") and callee == "__rustc::__rdl_alloc":
        mallocs += int(line.split("=")[1].split()[0])
print(f"{demo:<10} {path:<9} {requests:>9} {total // requests:>14} {mallocs / requests:>12.1f}")
PY
  done
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
done
