#!/usr/bin/env bash
# The whole test suite: unit, integration (real HTTP on 127.0.0.1), macro UI tests, doc tests,
# and the interop test with supertokens-node (Node 20 and npm; packages from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
bash tests/interop/run.sh
