#!/usr/bin/env bash
# Create and refresh throughput of the embedded core by store: SQLite against PostgreSQL, one
# sessionward-core instance against two on the same store, over HTTP (CDI 5.4) on 127.0.0.1,
# every run bounded.
#
# For each store (SQLite: a fresh data directory, WAL, synchronous=FULL; PostgreSQL: a fresh
# database on a throwaway cluster of its own, `scripts/pg.sh start --durable`: fsync and
# synchronous_commit on) and each instance count (1, 2: two processes on the same store, the
# load split across them, wrk's odd threads on one and even threads on the other):
#   1. WARMUP seconds of creates, not measured: their refresh tokens fill the pool;
#   2. DURATION seconds of creates (POST /recipe/session), measured; their tokens join the pool;
#   3. DURATION seconds of first refreshes (POST /recipe/session/refresh), measured, each
#      refresh token of the pool used once (with two instances, about half of them on the
#      instance that did not create the session).
# wrk drives them with bench/store.lua. Then it measures the machine's RSA signing limit as
# BENCHMARKS.md defines it, CORES ÷ the median CPU time of one RS256 signature (criterion's
# `rs256_sign` entry of the verify bench), and prints a markdown table: creates/s and
# refreshes/s with p50 and p99, each rate ÷ the signing limit (the goal for refresh on
# PostgreSQL: ≥ 0.5).
#
# Every answer must be a 200 with `"status":"OK"`: a run with another answer, a socket error or
# a refresh pool used up (refresh faster than WARMUP + DURATION of creates filled it) is flagged
# and makes the script exit 1 once the table is printed.
#
# Usage: bash bench/store.sh                         (about 3 minutes after the builds)
#        DURATION=2 bash bench/store.sh              (a smoke run)
# Environment: DURATION seconds per measured run (10), WARMUP seconds of unmeasured creates per
#              configuration (DURATION), CONNECTIONS (32), THREADS (2; even),
#              STORES ("sqlite postgres"), INSTANCES ("1 2"), CORES for the signing limit
#              (nproc), SIGN_NS=<ns> to take one RS256 signature's time as given instead of
#              running criterion (about 10 s, after the bench's build), SKIP_BUILD=1 to reuse
#              target/release/sessionward-core, OUT (bench/store: writes OUT.tsv).
#              The data (the SQLite file, the PostgreSQL cluster) goes under TMPDIR (/tmp):
#              point it at a disk, not a tmpfs, or the commits cost nothing.
# Needs: wrk (installed from the Debian package if missing), curl, python3, cargo, PostgreSQL's
# server binaries and psql for the PostgreSQL rows (Debian's postgresql package).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-$DURATION}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
STORES=${STORES:-sqlite postgres}
INSTANCES=${INSTANCES:-1 2}
CORES=${CORES:-$(nproc)}
SIGN_NS=${SIGN_NS:-}
OUT=${OUT:-bench/store}

if [ $(( THREADS % 2 )) != 0 ] || [ "$THREADS" -lt 2 ]; then
  echo "THREADS must be even (half the threads per instance)" >&2
  exit 2
fi

ensure_wrk
case " $STORES " in
  *" postgres "*)
    if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
      echo "the PostgreSQL rows need PostgreSQL's server binaries and psql (apt-get install postgresql); STORES=sqlite skips them" >&2
      exit 1
    fi
    ;;
esac

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building sessionward-core (release)" >&2
  cargo build --release --locked -q -p sessionward-examples --bin sessionward-core
fi
TARGET_DIR=$(target_dir)
CORE=$TARGET_DIR/release/sessionward-core

WORK=$(mktemp -d)
if [ "$(findmnt -no FSTYPE --target "$WORK" 2>/dev/null || true)" = tmpfs ]; then
  echo "warning: $WORK is on a tmpfs: SQLite's and PostgreSQL's commits never reach a disk (set TMPDIR)" >&2
fi
PG_DIR=""
PG_URL=""
PIDS=()
# stop_cores: SIGTERM to every running core, then wait for it.
stop_cores() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_cores
  [ -n "$PG_DIR" ] && bash scripts/pg.sh stop "$PG_DIR"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

API_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

# spawn NAME [VAR=value...]: starts sessionward-core with PORT=0 and the variables, records its
# id in PIDS, waits until it prints `listening on http://127.0.0.1:<port>` and sets ADDR.
spawn() {
  local name=$1 pid
  shift
  # The files exist before the loop below reads them: the background shell may open them later.
  : >"$WORK/$name.out"
  : >"$WORK/$name.err"
  env PORT=0 RUST_LOG=warn API_KEY="$API_KEY" "$@" "$CORE" >>"$WORK/$name.out" 2>>"$WORK/$name.err" &
  pid=$!
  PIDS+=("$pid")
  await_address "$name" "$pid"
}

# load MODE SECONDS FIRST SECOND POOL: one bounded wrk run of MODE (create or refresh) on the
# instance at FIRST (and SECOND, if not empty); leaves wrk's STORE line in $WORK/wrk.out.
load() {
  local mode=$1 secs=$2 first=$3 second=$4 pool=$5
  STORE_MODE=$mode STORE_POOL=$pool STORE_API_KEY=$API_KEY STORE_SECOND=$second \
    STORE_THREADS=$THREADS timeout $((secs + 30)) \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" -s bench/store.lua "http://$first" \
    >"$WORK/wrk.out"
  if ! grep -q '^STORE ' "$WORK/wrk.out"; then
    echo "wrk printed no STORE line:" >&2
    cat "$WORK/wrk.out" >&2
    exit 1
  fi
}

RESULTS=$OUT.tsv
FLAGGED=$WORK/flagged
: >"$FLAGGED"
mkdir -p "$(dirname "$OUT")"
printf 'store\tinstances\toperation\tper_s\tp50_ms\tp99_ms\tok\tfailed\texhausted\tnon2xx\tsocket_errors\n' >"$RESULTS"

# record STORE INSTANCES OPERATION: appends the row of the last wrk run.
record() {
  python3 - "$WORK/wrk.out" "$FLAGGED" "$@" >>"$RESULTS" <<'PY'
import re, sys
line = next(l for l in open(sys.argv[1]) if l.startswith("STORE "))
f = {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", line)}
per_s = f["ok"] / (f["duration_us"] / 1e6)
row = sys.argv[3:6] + [f"{per_s:.0f}", f"{f['p50_us'] / 1000:.2f}", f"{f['p99_us'] / 1000:.2f}",
       str(f["ok"]), str(f["failed"]), str(f["exhausted"]), str(f["non2xx"]), str(f["socket_errors"])]
print("\t".join(row))
if f["failed"] or f["exhausted"] or f["non2xx"] or f["socket_errors"]:
    note = (f"{' '.join(sys.argv[3:6])}: {f['failed']} failed, {f['exhausted']} thread(s) out of "
            f"refresh tokens, {f['non2xx']} non-2xx, {f['socket_errors']} socket errors")
    print(f"warning: {note}", file=sys.stderr)
    with open(sys.argv[2], "a") as out:
        out.write(note + "\n")
PY
  tail -n1 "$RESULTS" | awk -F'\t' '{printf "  %-8s x%s %-7s %7s /s  p50 %7s ms  p99 %7s ms\n", $1, $2, $3, $4, $5, $6}' >&2
}

for store in $STORES; do
  if [ "$store" = postgres ] && [ -z "$PG_DIR" ]; then
    echo "== PostgreSQL: a throwaway cluster with fsync and synchronous_commit on" >&2
    pg_env=$(bash scripts/pg.sh start --durable)
    PG_DIR=$(printf '%s\n' "$pg_env" | sed -n 's/^export PG_TEST_DIR=//p')
    PG_URL=$(printf '%s\n' "$pg_env" | sed -n 's/^export SESSIONWARD_TEST_DATABASE_URL=//p')
  fi
  for instances in $INSTANCES; do
    echo "== $store, $instances instance(s)" >&2
    case "$store" in
      sqlite) env_store=(DATA_DIR="$WORK/sqlite-$instances") ;;
      postgres)
        db=bench_store_$instances
        psql "$PG_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
        env_store=(DATA_DIR="$WORK/unused" DATABASE_URL="${PG_URL%/*}/$db")
        ;;
      *) echo "unknown store $store (sqlite, postgres)" >&2; exit 2 ;;
    esac
    # One after the other: the second finds the keys the first created.
    spawn "$store-$instances-a" "${env_store[@]}"
    first=$ADDR
    second=""
    if [ "$instances" = 2 ]; then
      spawn "$store-$instances-b" "${env_store[@]}"
      second=$ADDR
    elif [ "$instances" != 1 ]; then
      echo "INSTANCES: 1 or 2" >&2
      exit 2
    fi
    pool=$WORK/pool-$store-$instances
    mkdir -p "$pool"
    load create "$WARMUP" "$first" "$second" "$pool"
    load create "$DURATION" "$first" "$second" "$pool"
    record "$store" "$instances" create
    load refresh "$DURATION" "$first" "$second" "$pool"
    record "$store" "$instances" refresh
    stop_cores
  done
done

if [ -z "$SIGN_NS" ]; then
  echo "== RS256 signing: cargo bench -p sessionward --features __internals --bench verify -- rs256_sign" >&2
  cargo bench --locked -q -p sessionward --features __internals --bench verify -- rs256_sign >&2
  SIGN_NS=$(python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["median"]["point_estimate"]))' \
    "$TARGET_DIR/criterion/verify/rs256_sign/new/estimates.json")
fi

echo
python3 - "$RESULTS" "$SIGN_NS" "$CORES" "$DURATION" "$CONNECTIONS" "$THREADS" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
sign_ns, cores = float(sys.argv[2]), int(sys.argv[3])
limit = cores / (sign_ns / 1e9)
print(f"RSA signing limit: {cores} cores / {sign_ns / 1000:.0f} µs per RS256 signature = {limit:.0f} /s")
print(f"wrk -t{sys.argv[6]} -c{sys.argv[5]}, {sys.argv[4]} s per run\n")
print("| store | instances | creates/s | p50 ms | p99 ms | ÷ limit | refreshes/s | p50 ms | p99 ms | ÷ limit |")
print("|---|---|---|---|---|---|---|---|---|---|")
by = {(r["store"], r["instances"], r["operation"]): r for r in rows}
for store, instances in dict.fromkeys((r["store"], r["instances"]) for r in rows):
    cells = [store, instances]
    for op in ("create", "refresh"):
        r = by[(store, instances, op)]
        cells += [r["per_s"], r["p50_ms"], r["p99_ms"], f"{float(r['per_s']) / limit:.2f}"]
    print("| " + " | ".join(cells) + " |")
pg = [float(by[k]["per_s"]) / limit for k in by if k[0] == "postgres" and k[2] == "refresh"]
if pg:
    status = "met" if all(v >= 0.5 for v in pg) else "MISSED"
    print(f"\nrefresh on PostgreSQL ÷ signing limit: {', '.join(f'{v:.2f}' for v in pg)} (goal >= 0.5: {status})")
PY

if [ -s "$FLAGGED" ]; then
  echo >&2
  echo "these runs are not valid figures:" >&2
  cat "$FLAGGED" >&2
  exit 1
fi
