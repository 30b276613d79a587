#!/usr/bin/env bash
# moto's standalone server: an in-memory AWS (SQS and S3 are what the tests use) on one port.
# Installed from PyPI into a virtualenv under the cache dir, so nothing touches the system Python.
#
#   bash scripts/services/moto.sh up       install if missing, start, wait until it answers HTTP
#   bash scripts/services/moto.sh down     stop (SIGTERM, then SIGKILL); all state is in memory
#   bash scripts/services/moto.sh env      print the `export` lines the tests use (while up)
#   bash scripts/services/moto.sh status   say whether it runs and answers
#
# If GRADESTREAM_TEST_AWS_ENDPOINT is already set to another server, that one is used and nothing
# is started (the convention of scripts/services.sh).
#
# Settings (env): MOTO_PORT (15000), MOTO_VERSION (5.2.5), MOTO_START_TIMEOUT (60 s),
# MOTO_STOP_TIMEOUT (10 s), GRADESTREAM_SERVICES_DIR, GRADESTREAM_CACHE_DIR.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
svc_init moto

MOTO_PORT=${MOTO_PORT:-15000}
# Pinned so a new moto release cannot change behaviour under the tests; bump deliberately.
MOTO_VERSION=${MOTO_VERSION:-5.2.5}
START_TIMEOUT=${MOTO_START_TIMEOUT:-60}
STOP_TIMEOUT=${MOTO_STOP_TIMEOUT:-10}
VENV=$SVC_CACHE/venv-$MOTO_VERSION
# moto_server's command line carries this, which identifies our process (see svc_pid).
# shellcheck disable=SC2034 # used by lib/common.sh
SVC_MARKER="moto_server -H 127.0.0.1 -p $MOTO_PORT"
URL=http://127.0.0.1:$MOTO_PORT

# GRADESTREAM_TEST_AWS_ENDPOINT already set to another server: use it, start nothing (see
# svc_external).
EXTERNAL=false
if svc_external GRADESTREAM_TEST_AWS_ENDPOINT "$URL"; then EXTERNAL=true; fi

# Prints the variables only while a server is there to use (like postgres.sh), so tests that skip
# when they are unset skip rather than fail when this service was not started.
cmd_env() {
  local endpoint=$URL
  if $EXTERNAL; then
    endpoint=$GRADESTREAM_TEST_AWS_ENDPOINT
  elif [ -z "$(svc_pid)" ]; then
    svc_log "not running: no env to print (run: $0 up)"
    return 0
  fi
  echo "export GRADESTREAM_TEST_AWS_ENDPOINT=$endpoint"
  # Test-only region and credentials: moto accepts any; the SDKs just need some to sign with.
  echo "export AWS_REGION=us-east-1"
  echo "export AWS_ACCESS_KEY_ID=test"
  echo "export AWS_SECRET_ACCESS_KEY=test"
}

install() {
  # .complete is written only after pip succeeded, so a half-built venv is rebuilt, not trusted.
  [ -f "$VENV/.complete" ] && return 0
  require_cmd python3 "Python 3 with the venv module, used to install moto from PyPI"
  require_cmd curl "curl, used for the readiness check"
  rm -rf "$VENV"
  svc_log "creating virtualenv $VENV"
  python3 -m venv "$VENV" ||
    die "missing prerequisite: 'python3 -m venv' failed (on Debian install python3-venv; pip/ensurepip is needed)"
  svc_log "pip install moto[server]==$MOTO_VERSION (log: $SVC_CACHE/pip.log)"
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION" \
    >"$SVC_CACHE/pip.log" 2>&1; then
    tail -n 30 "$SVC_CACHE/pip.log" >&2
    die "pip could not install moto[server]==$MOTO_VERSION (full log: $SVC_CACHE/pip.log)"
  fi
  [ -x "$VENV/bin/moto_server" ] || die "moto_server missing from $VENV after pip install"
  touch "$VENV/.complete"
}

# Readiness: a real HTTP answer from moto's own API (its dashboard data), not just an open port.
probe() {
  curl -fsS -o /dev/null --max-time 3 "$URL/moto-api/data.json"
}

cmd_up() {
  if $EXTERNAL; then
    svc_log "GRADESTREAM_TEST_AWS_ENDPOINT=$GRADESTREAM_TEST_AWS_ENDPOINT is set: using that server, starting nothing"
    return 0
  fi
  install
  local pid
  pid=$(svc_pid)
  if [ -n "$pid" ]; then
    svc_wait_ready "$START_TIMEOUT" probe
    svc_log "already running and ready (pid $pid)"
    return 0
  fi
  rm -f "$SVC_PID_FILE"
  assert_port_free "$MOTO_PORT" MOTO_PORT
  svc_rotate_log
  svc_log "starting moto $MOTO_VERSION on $URL"
  # PYTHONUNBUFFERED: request logs reach moto.log as they happen, not in 8 KiB chunks.
  PYTHONUNBUFFERED=1 svc_spawn "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
  svc_wait_ready "$START_TIMEOUT" probe
  svc_log "ready (pid $(cat "$SVC_PID_FILE"))"
}

cmd_down() {
  svc_stop "$STOP_TIMEOUT"
  rm -rf "$SVC_DATA"
  svc_log "down"
}

cmd_status() {
  if $EXTERNAL; then
    echo "moto: external server $GRADESTREAM_TEST_AWS_ENDPOINT (GRADESTREAM_TEST_AWS_ENDPOINT; not managed here)"
    return 0
  fi
  local pid
  pid=$(svc_pid)
  [ -n "$pid" ] || { echo "moto: not running"; return 1; }
  if probe 2>/dev/null; then echo "moto: running (pid $pid), ready on $URL"; else
    echo "moto: running (pid $pid) but not answering on $URL"
    return 1
  fi
}

case "${1:-}" in
  install) svc_lock; $EXTERNAL || install ;;
  up) svc_lock; cmd_up ;;
  down) svc_lock; cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|up|down|env|status" >&2; exit 2 ;;
esac
