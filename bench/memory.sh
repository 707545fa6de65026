#!/usr/bin/env bash
# Memory of the demo under many sessions: creates SESSIONS sessions (POST /login,
# header mode) and verifies each new, distinct access token once (GET /user), then prints
# the demo's resident memory (VmRSS) and peak (VmHWM). Target: RSS below 200 MB after
# 100 000 sessions and 100 000 distinct tokens verified.
#
# Usage: bash bench/memory.sh                       (100 000 sessions, cache on: ~2-4 minutes)
#        SESSIONS=20000 VERIFIED_TOKEN_CACHE=off bash bench/memory.sh
# Environment: SESSIONS (100000), CLIENTS concurrent keep-alive clients (16),
#              VERIFIED_TOKEN_CACHE (on), SKIP_BUILD=1 to reuse target/release/demo,
#              LIMIT_SECS bound on the load phase (900).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

SESSIONS=${SESSIONS:-100000}
CLIENTS=${CLIENTS:-16}
LIMIT_SECS=${LIMIT_SECS:-900}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building demo (release)" >&2
  cargo build --release --locked -q -p sessionward-examples --bin demo
fi
TARGET_DIR=$(target_dir)

WORK=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

env PORT=0 DATA_DIR="$WORK/data" RUST_LOG=warn VERIFIED_TOKEN_CACHE="${VERIFIED_TOKEN_CACHE:-on}" \
  "$TARGET_DIR/release/demo" >"$WORK/demo.out" 2>"$WORK/demo.err" &
PID=$!
await_address demo "$PID"

timeout "$LIMIT_SECS" python3 - "$ADDR" "$PID" "$SESSIONS" "$CLIENTS" "${VERIFIED_TOKEN_CACHE:-on}" <<'PY'
import http.client, json, sys, threading, time

addr, pid, total, clients, cache = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
host, port = addr.split(":")

def status(field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # MiB
    return float("nan")

errors = []
done = [0]
lock = threading.Lock()

def worker(index):
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    for i in range(index, total, clients):
        try:
            body = json.dumps({"userId": f"mem-{i}"})
            conn.request("POST", "/login", body, {"content-type": "application/json", "st-auth-mode": "header"})
            response = conn.getresponse()
            response.read()
            token = response.getheader("st-access-token")
            if response.status != 200 or not token:
                raise RuntimeError(f"login {i}: {response.status}")
            conn.request("GET", "/user", headers={"authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"user {i}: {response.status}")
        except Exception as e:  # keep going, report at the end
            errors.append(str(e))
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=30)
            if len(errors) > 100:
                return
        with lock:
            done[0] += 1

print(f"demo {addr}, verified-token cache {cache}: {total} sessions, {clients} clients")
print(f"  before: VmRSS {status('VmRSS'):.1f} MiB")
start = time.time()
threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
for t in threads:
    t.start()
last = 0
while any(t.is_alive() for t in threads):
    time.sleep(1)
    if time.time() - last >= 15:
        last = time.time()
        print(f"  {done[0]:>7} sessions created and verified, VmRSS {status('VmRSS'):.1f} MiB, {time.time() - start:.0f} s")
for t in threads:
    t.join()
elapsed = time.time() - start
rss, hwm = status("VmRSS"), status("VmHWM")
print(f"  after:  {done[0]} sessions created and {done[0]} distinct tokens verified in {elapsed:.0f} s "
      f"({2 * done[0] / elapsed:.0f} req/s)")
print(f"  VmRSS {rss:.1f} MiB, peak VmHWM {hwm:.1f} MiB (target: < 200 MB = {200e6 / 2**20:.1f} MiB)")
if errors:
    print(f"  {len(errors)} errors, first: {errors[0]}")
    sys.exit(1)
sys.exit(0 if rss * 2**20 < 200e6 else 2)
PY
