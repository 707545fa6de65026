#!/usr/bin/env bash
# Interop test: supertokens-node 24.0.3 (express) uses sessionward-core as its SuperTokens
# Core over CDI 5.4, and sessions cross between supertokens-node and sessionward's demo in
# CoreClient mode, both ways (test.js); and supertokens-node uses two sessionward-core
# processes on one PostgreSQL database (two-cores.js); and supertokens-node 13.6.1 (npm alias
# supertokens-node-13) uses sessionward-core over CDI 2.20 with v2 access tokens
# (legacy-sdk.js). Installs the pinned npm packages (npm ci, from the npm registry), builds the
# binaries, runs the test files; exits non-zero on failure. Needs Node >= 20 with npm, and
# cargo. Everything it starts listens on 127.0.0.1.
#
# The database of two-cores.js is a fresh one (created with psql, dropped afterwards) on the
# server of SESSIONWARD_TEST_DATABASE_URL; when that is unset and PostgreSQL's server binaries
# are installed, on a throwaway cluster of scripts/pg.sh, stopped afterwards. Without either,
# two-cores.js skips its tests and says why. INTEROP_DB_PREFIX (`sessionward_interop`) starts
# the database's name.
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

# Whatever the steps below leave behind goes however the script ends.
pg_dir=""
db_name=""
admin_url=""
cleanup() {
  if [ -n "$db_name" ]; then
    "$psql" "$admin_url" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db_name WITH (FORCE)" \
      >/dev/null 2>&1 || echo "interop: could not drop the database $db_name" >&2
  fi
  if [ -n "$pg_dir" ]; then
    bash "$root/scripts/pg.sh" stop "$pg_dir"
  fi
}
trap cleanup EXIT

echo "== interop: PostgreSQL for two cores on one database"
pg_bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "${SESSIONWARD_TEST_DATABASE_URL:-}" ]; then
  admin_url=$SESSIONWARD_TEST_DATABASE_URL
elif [ -n "$pg_bindir" ] && [ -x "$pg_bindir/pg_ctl" ]; then
  pg_env=$(bash "$root/scripts/pg.sh" start)
  pg_dir=$(printf '%s\n' "$pg_env" | sed -n 's/^export PG_TEST_DIR=//p')
  admin_url=$(printf '%s\n' "$pg_env" | sed -n 's/^export SESSIONWARD_TEST_DATABASE_URL=//p')
  echo "started a throwaway cluster (scripts/pg.sh)"
fi
export SG_DATABASE_URL=""
if [ -n "$admin_url" ]; then
  psql=$(command -v psql || echo "$pg_bindir/psql")
  [ -x "$psql" ] || { echo "interop: psql is required to create the test database" >&2; exit 1; }
  prefix=${INTEROP_DB_PREFIX:-sessionward_interop}
  case "$prefix" in
    [a-z]*) ;;
    *) echo "INTEROP_DB_PREFIX must start with a lowercase letter" >&2; exit 2 ;;
  esac
  case "$prefix" in
    *[!a-z0-9_]*) echo "INTEROP_DB_PREFIX: lowercase letters, digits and _ only" >&2; exit 2 ;;
  esac
  db_name="${prefix}_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  "$psql" "$admin_url" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db_name" >/dev/null
  # The same server and credentials, the new database (the URL's path).
  SG_DATABASE_URL=$(python3 -c 'import sys, urllib.parse as u
url = u.urlsplit(sys.argv[1])
print(u.urlunsplit(url._replace(path="/" + sys.argv[2])))' "$admin_url" "$db_name")
  echo "database $db_name"
else
  echo "no SESSIONWARD_TEST_DATABASE_URL and no PostgreSQL server binaries: two-cores.js skips"
fi

echo "== interop: node --test"
cd "$here"
SG_CORE_BIN="$target/debug/sessionward-core" \
SG_DEMO_BIN="$target/debug/demo" \
SG_DEMO_AXUM_BIN="$target/debug/demo-axum" \
SG_STRICT_BIN="$target/debug/supertokens_core" \
  timeout 300 node --test --test-timeout=120000 test.js two-cores.js legacy-sdk.js
