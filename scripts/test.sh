#!/usr/bin/env bash
# The whole test suite: unit, integration (real HTTP on 127.0.0.1), macro UI tests, doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
