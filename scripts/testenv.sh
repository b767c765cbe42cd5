#!/usr/bin/env bash
# Start a throwaway PostgreSQL and Redis on free loopback ports, run "$@" with their URLs
# exported (HUITUAN_TEST_DATABASE_URL, HUITUAN_TEST_REDIS_URL), then stop both.
# Installs the server packages with apt-get when they are missing and we run as root.
set -euo pipefail

need_install=()
if ! ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need_install+=(postgresql); fi
if ! command -v redis-server >/dev/null 2>&1; then need_install+=(redis-server); fi
if [ ${#need_install[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "testenv: installing ${need_install[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${need_install[@]}" >&2
  else
    echo "testenv: missing ${need_install[*]}; install them (apt-get install ${need_install[*]}) or run as root" >&2
    exit 2
  fi
fi

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/huituan-testenv.XXXXXX)
chmod 755 "$WORK"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PG_PORT=$(free_port)
REDIS_PORT=$(free_port)

as_pg() {
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$WORK" postgres
    chown -R postgres "$WORK"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cleanup() {
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  if [ -f "$WORK/redis.pid" ]; then kill "$(cat "$WORK/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/pg"
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# Tests: durability off, this database lives for one run. Benchmarks (TESTENV_DURABLE=1, what
# `make bench` sets): PostgreSQL's defaults, every commit flushed to disk, so the figures are
# what a real deployment gets.
DURABILITY="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [ "${TESTENV_DURABLE:-0}" = "1" ]; then DURABILITY="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"; fi
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 $DURABILITY -c max_connections=400 -c shared_buffers=256MB" start >/dev/null
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres huituan_test

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log" --dir "$WORK"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export HUITUAN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/huituan_test"
export HUITUAN_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
echo "testenv: PostgreSQL on $PG_PORT, Redis on $REDIS_PORT" >&2
"$@"
