#!/usr/bin/env bash
# Browser end-to-end test: the official SuperTokens frontend SDK (supertokens-web-js) in
# Debian's Chromium, driven by playwright-core, against the sessionward demo backend, in both
# token transfer methods, with the embedded core and in SuperTokens Core mode (the demo on
# sessionward-core). Installs what it needs, builds the binaries, runs e2e.test.mjs.
#
#   bash tests/e2e/run.sh
#
# Exits non-zero on failure; screenshots and demo logs of a failed run are in
# tests/e2e/artifacts/. Environment: CHROMIUM (/usr/bin/chromium), E2E_TIMEOUT (240 s for the
# browser part), RUST_LOG for the demo's log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

say() { echo "== e2e: $*"; }
run_as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  # Debian's Chromium only: test tools must never download a browser of their own.
  say "installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  if ! run_as_root timeout 900 apt-get install -y chromium; then
    run_as_root timeout 300 apt-get update
    run_as_root timeout 900 apt-get install -y chromium
  fi
fi
"$CHROMIUM" --version 2>/dev/null | head -n 1

for tool in node npm cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "e2e: $tool is required" >&2; exit 1; }
done

# npm ci with the committed lock file; skipped when node_modules already matches it.
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat node_modules/.e2e-lock-sha256 2>/dev/null || true)" != "$lock_sum" ]; then
  say "npm ci"
  timeout 600 npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.e2e-lock-sha256
fi

say "building the demos (actix-web, axum) and sessionward-core"
(cd "$root" && timeout 1800 cargo build --locked -p sessionward-examples --bin demo --bin demo-axum \
  --bin sessionward-core)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked |
  node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')"
export CORE_BIN="$target_dir/debug/sessionward-core"
for bin in "$target_dir/debug/demo" "$target_dir/debug/demo-axum" "$CORE_BIN"; do
  [ -x "$bin" ] || { echo "e2e: no binary at $bin" >&2; exit 1; }
done

say "bundling the page"
./node_modules/.bin/esbuild page/main.js --bundle --format=iife --target=chrome110 \
  --outfile=dist/bundle.js --log-level=warning

rm -rf artifacts
mkdir -p artifacts
export E2E_ARTIFACTS="$here/artifacts"
# Every scenario runs against each demo: the same contract on actix-web and on axum.
for demo in demo demo-axum; do
  say "running the browser tests against $demo"
  status=0
  DEMO_BIN="$target_dir/debug/$demo" DEMO_NAME="$demo" \
    timeout --kill-after=10 "${E2E_TIMEOUT:-240}" node --test --test-reporter=spec e2e.test.mjs ||
    status=$?
  if [ "$status" -ne 0 ]; then
    [ "$status" -eq 124 ] && echo "e2e: timed out after ${E2E_TIMEOUT:-240} s ($demo)" >&2
    echo "e2e: FAILED against $demo (exit $status); screenshots and logs in $here/artifacts" >&2
    exit "$status"
  fi
done
