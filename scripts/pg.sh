#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the PostgreSQL tests: 127.0.0.1 only, a free port, trust
# authentication (local test use only), data in a temporary directory (under $TMPDIR, or /tmp).
#
#   eval "$(bash scripts/pg.sh start)"   # exports SESSIONWARD_TEST_DATABASE_URL and PG_TEST_DIR
#   bash scripts/pg.sh start --tls CERT KEY  # the same with TLS (PEM server certificate and key):
#                                            # TCP clients must use TLS (hostssl only); the Unix
#                                            # socket in PG_TEST_DIR stays open without it
#   bash scripts/pg.sh start --durable       # fsync and synchronous_commit on (PostgreSQL's
#                                            # defaults), for benchmarks whose commits must reach
#                                            # the disk as in production (bench/store.sh)
#   bash scripts/pg.sh halt "$PG_TEST_DIR"     # stops the server, keeping its data
#   bash scripts/pg.sh resume "$PG_TEST_DIR"   # starts it again on the same port
#   bash scripts/pg.sh stop "$PG_TEST_DIR"     # stops it and removes everything
#
# Uses Debian's server binaries (/usr/lib/postgresql/<version>/bin); as root, the cluster runs
# as the `postgres` user, which initdb and pg_ctl require.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
  echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    tls_cert=
    tls_key=
    fsync="-c fsync=off"
    if [ "${2:-}" = --tls ]; then
      tls_cert=${3:?usage: pg.sh start --tls CERT KEY}
      tls_key=${4:?usage: pg.sh start --tls CERT KEY}
    elif [ "${2:-}" = --durable ]; then
      fsync="-c fsync=on -c synchronous_commit=on"
    elif [ -n "${2:-}" ]; then
      echo "usage: pg.sh start [--tls CERT KEY | --durable]" >&2
      exit 2
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sessionward-pg.XXXXXX")
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
      --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync=off (unless --durable): a throwaway cluster that never outlives a crash; the tests
    # check semantics, not the disk. Enough connections for several test binaries' pools at once.
    options="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 $fsync"
    if [ -n "$tls_cert" ]; then
      # The server refuses a key file others can read, and must own it to read it at mode 0600.
      install -m 644 "$tls_cert" "$dir/server.crt"
      install -m 600 "$tls_key" "$dir/server.key"
      [ "$(id -u)" = 0 ] && chown postgres: "$dir/server.crt" "$dir/server.key"
      options="$options -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
      # Only TLS over TCP: a client that got in over 127.0.0.1 spoke TLS.
      printf '%s\n' 'local all all trust' 'hostssl all all 127.0.0.1/32 trust' \
        | as_pg tee "$dir/data/pg_hba.conf" >/dev/null
    fi
    echo "$options" >"$dir/options"
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$(cat "$dir/options")" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "export PG_TEST_DIR=$dir"
    echo "export SESSIONWARD_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  halt)
    dir=${2:?usage: pg.sh halt DIR}
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    ;;
  resume)
    dir=${2:?usage: pg.sh resume DIR}
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "$(cat "$dir/options")" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    dir=${2:?usage: pg.sh stop DIR}
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg.sh start [--tls CERT KEY | --durable] | halt DIR | resume DIR | stop DIR" >&2
    exit 2
    ;;
esac
