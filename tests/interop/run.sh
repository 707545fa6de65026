#!/usr/bin/env bash
# Interop test: supertokens-node 24.0.3 (express) uses sessionward-core as its SuperTokens
# Core over CDI 5.4, and sessions cross between supertokens-node and sessionward's demo in
# CoreClient mode, both ways. Installs the pinned npm packages (npm ci, from the npm registry),
# builds the two binaries, runs tests/interop/test.js; exits non-zero on failure.
# Needs Node >= 20 with npm, and cargo. Everything it starts listens on 127.0.0.1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

for tool in node npm cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "interop: $tool is required" >&2; exit 1; }
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "interop: Node >= 20 is required (found $(node --version))" >&2
  exit 1
fi

echo "== interop: npm ci"
(cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

echo "== interop: cargo build"
(cd "$root" && cargo build --locked -p sessionward-examples --bin sessionward-core --bin demo \
  --bin demo-axum --bin supertokens_core)
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac

echo "== interop: node --test"
cd "$here"
SG_CORE_BIN="$target/debug/sessionward-core" \
SG_DEMO_BIN="$target/debug/demo" \
SG_DEMO_AXUM_BIN="$target/debug/demo-axum" \
SG_STRICT_BIN="$target/debug/supertokens_core" \
  timeout 300 node --test --test-timeout=120000 test.js
