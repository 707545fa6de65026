#!/usr/bin/env bash
# The whole test suite: unit, integration (real HTTP on 127.0.0.1), macro UI tests, doc tests,
# the Lambda example, the interop test with supertokens-node, and the browser e2e test with the
# official frontend SDK in Debian's Chromium (Node 20 and npm; packages from the npm registry and
# Debian; both scripts install what they need).
# RUST_ONLY=1 runs only the Rust tests (no Node, no Chromium). Arguments go to the workspace's
# `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
cargo test -p sessionward-examples --features lambda --test lambda --locked
if [ "${RUST_ONLY:-0}" = 1 ]; then
  echo "RUST_ONLY=1: skipped the interop test with supertokens-node and the browser test"
  exit 0
fi
bash tests/interop/run.sh
bash tests/e2e/run.sh
