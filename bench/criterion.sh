#!/usr/bin/env bash
# Criterion benchmarks of the verify path and the targets of BENCHMARKS.md as ratios taken within
# one run (same group, same token): repeats ROUNDS times and prints each round and the range.
#
# With PostgreSQL's server binaries (Debian's postgresql package) it also measures create and
# refresh on PostgreSQL: a throwaway cluster with fsync and synchronous_commit on
# (`scripts/pg.sh start --durable`, data under TMPDIR: point it at a disk, not a tmpfs);
# POSTGRES=0 skips that.
#
# Usage: bash bench/criterion.sh            (1 round, about 3 minutes)
#        ROUNDS=3 bash bench/criterion.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
ROUNDS=${ROUNDS:-1}
TARGET_DIR=$(target_dir)
SUMMARY=$(mktemp)
PG_DIR=
cleanup() {
  rm -f "$SUMMARY"
  if [ -n "$PG_DIR" ]; then bash scripts/pg.sh stop "$PG_DIR"; fi
}
trap cleanup EXIT
FEATURES=__internals
if [ "${POSTGRES:-1}" != 0 ] && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  pg_env=$(bash scripts/pg.sh start --durable)
  PG_DIR=$(sed -n 's/^export PG_TEST_DIR=//p' <<<"$pg_env")
  export SG_BENCH_DATABASE_URL
  SG_BENCH_DATABASE_URL=$(sed -n 's/^export SESSIONWARD_TEST_DATABASE_URL=//p' <<<"$pg_env")
  FEATURES=__internals,postgres
  echo "== PostgreSQL (durable) for the create/refresh rows: $PG_DIR" >&2
fi

for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round/$ROUNDS: cargo bench -p sessionward --features $FEATURES --bench verify" >&2
  cargo bench --locked -q -p sessionward --features "$FEATURES" --bench verify >&2
  python3 - "$TARGET_DIR/criterion/verify" "$round" >>"$SUMMARY" <<'PY'
import json, os, sys
root, round_ = sys.argv[1], sys.argv[2]
def median_ns(name):
    with open(os.path.join(root, name, "new", "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"]
t = {name: median_ns(name) for name in os.listdir(root) if os.path.isdir(os.path.join(root, name, "new"))}
sign_limit = 2 / (t["rs256_sign"] / 1e9)           # signatures/s on 2 cores
sign_measured = 64 / (t["sign_x64"] / 1e9)         # signatures/s the runtime achieved
create = 64 / (t["create_x64"] / 1e9)
refresh = 64 / (t["refresh_x64"] / 1e9)
pg = {}
if "refresh_x64_postgres" in t:
    pg = {"create_pg_per_s": 64 / (t["create_x64_postgres"] / 1e9),
          "refresh_pg_per_s": 64 / (t["refresh_x64_postgres"] / 1e9)}
    pg["create_pg_share"] = pg["create_pg_per_s"] / sign_limit
    pg["refresh_pg_share"] = pg["refresh_pg_per_s"] / sign_limit
print(json.dumps({"round": round_, "times_ns": t, **pg,
    "miss_over_decode": t["verify_miss"] / t["jwt_decode"],
    "nocache_over_decode": t["verify_nocache"] / t["jwt_decode"],
    "hit_ns": t["verify_hit"],
    "sign_limit_per_s": sign_limit, "create_per_s": create, "refresh_per_s": refresh,
    "sign_measured_per_s": sign_measured,
    "create_share": create / sign_limit, "refresh_share": refresh / sign_limit,
    "create_share_measured": create / sign_measured, "refresh_share_measured": refresh / sign_measured}))
PY
done

python3 - "$SUMMARY" <<'PY'
import json, sys
rounds = [json.loads(line) for line in open(sys.argv[1])]
names = sorted(rounds[0]["times_ns"])
def rng(values, fmt):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else fmt.format(lo) + " - " + fmt.format(hi)
print("median time per iteration (create_x64 / refresh_x64: 64 operations)")
for name in names:
    print(f"  {name:<16} {rng([r['times_ns'][name] / 1000 for r in rounds], '{:.2f}'):>20} µs")
rows = [
    ("verify_miss / jwt_decode", "miss_over_decode", "{:.3f}", lambda v: v <= 1.15, "<= 1.15"),
    ("verify_nocache / jwt_decode", "nocache_over_decode", "{:.3f}", None, ""),
    ("verify_hit (ns)", "hit_ns", "{:.0f}", lambda v: v <= 2000, "<= 2000 ns"),
    ("RSA signing limit (2 cores, /s)", "sign_limit_per_s", "{:.0f}", None, ""),
    ("signing, 64 concurrent (/s)", "sign_measured_per_s", "{:.0f}", None, ""),
    ("create (/s)", "create_per_s", "{:.0f}", None, ""),
    ("refresh (/s)", "refresh_per_s", "{:.0f}", None, ""),
    ("create / signing limit", "create_share", "{:.2f}", lambda v: v >= 0.60, ">= 0.60"),
    ("refresh / signing limit", "refresh_share", "{:.2f}", lambda v: v >= 0.60, ">= 0.60"),
    ("create / measured signing", "create_share_measured", "{:.2f}", None, ""),
    ("refresh / measured signing", "refresh_share_measured", "{:.2f}", None, ""),
    ("create on PostgreSQL (/s)", "create_pg_per_s", "{:.0f}", None, ""),
    ("refresh on PostgreSQL (/s)", "refresh_pg_per_s", "{:.0f}", None, ""),
    ("create on PostgreSQL / limit", "create_pg_share", "{:.2f}", None, ""),
    ("refresh on PostgreSQL / limit", "refresh_pg_share", "{:.2f}", lambda v: v >= 0.50, ">= 0.50"),
]
print(f"\nratios within each run ({len(rounds)} round(s); range over rounds)")
for label, key, fmt, ok, target in rows:
    values = [r[key] for r in rounds if key in r]
    if not values:
        continue
    status = ""
    if ok:
        status = f"  target {target}: " + ("met" if all(ok(v) for v in values) else "MISSED")
    print(f"  {label:<32} {rng(values, fmt):>18}{status}")
PY
