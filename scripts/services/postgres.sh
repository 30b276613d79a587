#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the integration tests (the state store's second backend).
#
#   bash scripts/services/postgres.sh up       install Debian's postgresql if initdb is missing, create
#                                              the cluster if missing, start it, wait for pg_isready
#   bash scripts/services/postgres.sh down     stop it and delete the cluster
#   bash scripts/services/postgres.sh env      print the `export` line the tests use (once up)
#   bash scripts/services/postgres.sh status   say whether it runs and answers
#
# The cluster lives in ${GRADESTREAM_SERVICES_DIR:-/tmp/gradestream-services}/pg, owned by the
# `postgres` OS user (initdb and postgres refuse to run as root), listens on 127.0.0.1:$GRADESTREAM_PG_PORT
# (54329) with trust auth, durability off. If GRADESTREAM_TEST_POSTGRES_URL is already set, that
# server is used and nothing is started. `up` twice is fine.
set -euo pipefail

NAME=postgres
ROOT=${GRADESTREAM_SERVICES_DIR:-/tmp/gradestream-services}
PG_DIR=$ROOT/pg
PG_DATA=$PG_DIR/data
PG_PORT=${GRADESTREAM_PG_PORT:-54329}
ENV_FILE=$ROOT/postgres.env
STARTED=$ROOT/postgres.started # marks a cluster this script started (and so may stop)

log() { printf '[%s] %s\n' "$NAME" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "$NAME" "$*" >&2
  exit 1
}

# Two callers at once (e.g. parallel test workers) must not both run initdb.
lock() {
  mkdir -p "$ROOT"
  exec 9>"$ROOT/.$NAME.lock"
  if command -v flock >/dev/null; then flock -w 300 9 || die "could not take lock $ROOT/.$NAME.lock within 300s"; fi
}

# The directory of initdb/pg_ctl/pg_isready: PATH first, then Debian's versioned directories.
bindir() {
  local found
  if found=$(command -v initdb 2>/dev/null) && [ -x "$(dirname "$(readlink -f "$found")")/pg_ctl" ]; then
    dirname "$(readlink -f "$found")"
    return 0
  fi
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}

install() {
  log "initdb not found: installing Debian's postgresql with apt-get"
  [ "$(id -u)" -eq 0 ] || die "missing prerequisite: initdb (PostgreSQL server binaries); install the postgresql package, or run this as root so it can"
  command -v apt-get >/dev/null || die "missing prerequisite: initdb (PostgreSQL server binaries), and no apt-get to install it"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -ne 0 ]; then
    "$@"
  elif command -v runuser >/dev/null; then
    runuser -u postgres -- "$@"
  else
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  fi
}

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

cmd_up() {
  if [ -n "${GRADESTREAM_TEST_POSTGRES_URL:-}" ] && [ ! -f "$STARTED" ]; then
    log "using GRADESTREAM_TEST_POSTGRES_URL from the environment; starting nothing"
    echo "export GRADESTREAM_TEST_POSTGRES_URL='$GRADESTREAM_TEST_POSTGRES_URL'" >"$ENV_FILE"
    return 0
  fi
  BIN=$(bindir) || {
    install
    BIN=$(bindir) || die "missing prerequisite: initdb still not found after installing postgresql"
  }
  [ -x "$BIN/pg_isready" ] || die "missing prerequisite: pg_isready (next to initdb in $BIN)"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "missing prerequisite: the 'postgres' OS user (created by Debian's postgresql package)"
  fi

  mkdir -p "$PG_DIR"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$PG_DIR"
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    rm -rf "$PG_DATA"
    as_owner "$BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
      die "initdb failed; see $PG_DIR/initdb.log"
  fi
  if as_owner "$BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "already running on 127.0.0.1:$PG_PORT"
  else
    ! ready || die "port 127.0.0.1:$PG_PORT is taken by another server; choose another with GRADESTREAM_PG_PORT=…, or use it with GRADESTREAM_TEST_POSTGRES_URL=…"
    # -k: the socket goes in our directory, not /var/run/postgresql (which may not exist).
    # 9>&-: the server must not inherit the lock, or it would hold it for its whole life.
    as_owner "$BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null 9>&- || die "the server did not start; see $PG_DIR/server.log"
  fi
  local deadline=$((SECONDS + 30))
  until ready; do
    [ "$SECONDS" -lt "$deadline" ] || die "not ready after 30s; see $PG_DIR/server.log"
    sleep 0.3
  done
  touch "$STARTED"
  echo "export GRADESTREAM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres" >"$ENV_FILE"
  log "ready on 127.0.0.1:$PG_PORT"
}

cmd_down() {
  if [ -f "$STARTED" ] && [ -f "$PG_DATA/PG_VERSION" ] && BIN=$(bindir); then
    as_owner "$BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
  rm -f "$ENV_FILE" "$STARTED"
  log "down"
}

cmd_env() {
  if [ -f "$ENV_FILE" ]; then cat "$ENV_FILE"; fi
}

cmd_status() {
  [ -f "$ENV_FILE" ] || { echo "postgres: not up"; return 1; }
  local url
  url=$(sed -n "s/^export GRADESTREAM_TEST_POSTGRES_URL='\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$ENV_FILE")
  if command -v psql >/dev/null && psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1; then echo "postgres: ready at $url"; else
    echo "postgres: $url does not answer"
    return 1
  fi
}

case "${1:-}" in
  install) lock; bindir >/dev/null || install ;;
  up) lock; cmd_up ;;
  down) lock; cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|up|down|env|status" >&2; exit 2 ;;
esac
