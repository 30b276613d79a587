# shellcheck shell=bash disable=SC2034 # variables set here are used by the service scripts
# Shared helpers for the per-service scripts in scripts/services/*.sh (kafka, moto, elasticmq).
# Sourced, never run. Each service script calls `svc_init NAME` first and then uses these for the
# parts every service does the same way: state/cache dirs, PID files, starting a detached process,
# waiting for readiness, stopping by PID (SIGTERM, then SIGKILL).
#
# It lives in lib/ (not next to the service scripts) so a glob over scripts/services/*.sh finds
# only services.

# svc_init NAME: sets the variables every helper below uses.
#   SVC_NAME   the service name, used in messages and as its state dir name
#   SVC_DIR    ${GRADESTREAM_SERVICES_DIR:-/tmp/gradestream-services}/NAME: PID, logs, config, data
#   SVC_DATA   SVC_DIR/data: what `down` removes (the server's on-disk state, if any)
#   SVC_PID_FILE, SVC_LOG  the PID file and the server's log file
#   SVC_CACHE  ${GRADESTREAM_CACHE_DIR:-$HOME/.cache/gradestream}/NAME: downloads, kept across runs
svc_init() {
  SVC_NAME=$1
  SVC_ROOT=${GRADESTREAM_SERVICES_DIR:-/tmp/gradestream-services}
  CACHE_ROOT=${GRADESTREAM_CACHE_DIR:-$HOME/.cache/gradestream}
  # Absolute paths: they end up in server configs and PID checks run from other directories.
  mkdir -p "$SVC_ROOT" "$CACHE_ROOT"
  SVC_ROOT=$(cd "$SVC_ROOT" && pwd)
  CACHE_ROOT=$(cd "$CACHE_ROOT" && pwd)
  SVC_DIR=$SVC_ROOT/$SVC_NAME
  SVC_DATA=$SVC_DIR/data
  SVC_PID_FILE=$SVC_DIR/$SVC_NAME.pid
  SVC_LOG=$SVC_DIR/$SVC_NAME.log
  SVC_CACHE=$CACHE_ROOT/$SVC_NAME
  mkdir -p "$SVC_DIR" "$SVC_CACHE"
}

# svc_external VAR OWN_VALUE: the convention of scripts/services.sh: when the tests' variable is
# already set in the environment to another server than the one this script runs, the tests use
# that server and this script starts nothing. Set to our own address (e.g. after
# eval "$(NAME.sh env)") it is ours, and managed as usual.
svc_external() {
  local value=${!1:-}
  [ -n "$value" ] && [ "$value" != "$2" ]
}

svc_log() { printf '[%s] %s\n' "$SVC_NAME" "$*" >&2; }

# die MESSAGE: print an error naming the service and exit non-zero.
die() {
  printf '[%s] ERROR: %s\n' "$SVC_NAME" "$*" >&2
  exit 1
}

# require_cmd CMD WHAT: fail with a message naming the missing prerequisite.
require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "missing prerequisite: '$1' not found on PATH ($2)"
}

# svc_lock: serialize up/down/restart of one service (e.g. two test workers calling `up` at
# once). The lock file sits outside SVC_DIR because `down` deletes parts of SVC_DIR. Held until
# the script exits (fd 9 stays open).
svc_lock() {
  mkdir -p "$SVC_ROOT"
  exec 9>"$SVC_ROOT/.$SVC_NAME.lock"
  flock -w 300 9 || die "could not take lock $SVC_ROOT/.$SVC_NAME.lock within 300s"
}

# with_cache_lock CMD...: run CMD holding a lock shared by all services' installs, because they
# share one Maven local repository, which is not safe for concurrent writers.
with_cache_lock() {
  mkdir -p "$CACHE_ROOT"
  (
    flock -w 900 8 || die "could not take lock $CACHE_ROOT/.install.lock within 900s"
    "$@"
  ) 8>"$CACHE_ROOT/.install.lock"
}

# pid_alive PID: true if the process exists and is not a zombie (kill -0 succeeds on zombies,
# which would make a stopped server look alive if its parent never reaps it).
pid_alive() {
  local state
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] && [ "$state" != X ]
}

# svc_pid: print the recorded PID if that process is alive AND still ours: its command line must
# contain SVC_MARKER (set by the service script), so a PID reused by an unrelated process after a
# reboot or crash is never signalled. Prints nothing otherwise.
svc_pid() {
  local pid
  [ -s "$SVC_PID_FILE" ] || return 0
  pid=$(cat "$SVC_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  pid_alive "$pid" || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$SVC_MARKER" || return 0
  echo "$pid"
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT (bash's /dev/tcp,
# so no nc/ss needed).
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# assert_port_free PORT ENVVAR: before starting, make sure no *other* process holds our port,
# which would otherwise make readiness checks talk to the wrong server.
assert_port_free() {
  if port_open "$1"; then
    die "port 127.0.0.1:$1 is already in use by another process (not the one this script started); stop it or choose another port with $2=..."
  fi
}

# svc_spawn CMD...: start CMD detached in its own session (setsid: not killed with the caller's
# terminal or process group), stdin from /dev/null, stdout+stderr appended to SVC_LOG. The child
# writes its own PID before exec'ing CMD, so the PID file is right whether or not setsid forks.
svc_spawn() {
  rm -f "$SVC_PID_FILE"
  # 9>&-: the server must not inherit the fd holding svc_lock, or the lock would live (and block
  # every later up/down) as long as the server does.
  # shellcheck disable=SC2016 # $$ and $@ are for the inner bash
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$SVC_PID_FILE" "$@" >>"$SVC_LOG" 2>&1 </dev/null 9>&- &
  local _
  for _ in $(seq 50); do
    [ -s "$SVC_PID_FILE" ] && return 0
    sleep 0.1
  done
  die "process did not start (no PID file after 5s); see $SVC_LOG"
}

# log_tail: the last lines of the server log, for error messages.
log_tail() {
  echo "---- last 40 lines of $SVC_LOG ----" >&2
  tail -n 40 "$SVC_LOG" >&2 2>/dev/null || true
  echo "----" >&2
}

# svc_wait_ready TIMEOUT_S PROBE...: poll PROBE until it succeeds. Fails fast (with the log
# tail) if the server process exits, and with a clear message after TIMEOUT_S.
svc_wait_ready() {
  local timeout=$1 pid
  shift
  local deadline=$((SECONDS + timeout))
  pid=$(cat "$SVC_PID_FILE" 2>/dev/null || true)
  until "$@" >/dev/null 2>&1; do
    if ! pid_alive "$pid"; then
      log_tail
      die "server process (pid $pid) exited before becoming ready; full log: $SVC_LOG"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      svc_abort_start "not ready after ${timeout}s; full log: $SVC_LOG"
    fi
    sleep 0.3
  done
}

# svc_abort_start MESSAGE: a start that failed its readiness check: show the log, stop the
# half-started server (a failed `up` must not leave a stray process holding the port), and fail.
svc_abort_start() {
  log_tail
  svc_stop 5 || true
  die "$*"
}

# svc_stop TIMEOUT_S: stop the recorded process: SIGTERM, wait up to TIMEOUT_S for a clean
# exit, then SIGKILL. Succeeds when nothing is running.
svc_stop() {
  local timeout=$1 pid
  pid=$(svc_pid)
  if [ -z "$pid" ]; then
    rm -f "$SVC_PID_FILE"
    return 0
  fi
  svc_log "stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if pid_alive "$pid"; then
    svc_log "pid $pid still running after ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while pid_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    pid_alive "$pid" && die "pid $pid survived SIGKILL"
  fi
  rm -f "$SVC_PID_FILE"
}

# svc_rotate_log: keep the previous run's log as NAME.log.prev and start a fresh one.
svc_rotate_log() {
  if [ -s "$SVC_LOG" ]; then mv -f "$SVC_LOG" "$SVC_LOG.prev"; fi
  : >"$SVC_LOG"
}

# java_bin: the java to use (JAVA_HOME wins, else PATH); fails naming java if it is missing or
# older than the major version given.
java_bin() {
  local min=$1 java major
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java=$JAVA_HOME/bin/java; else
    require_cmd java "a Java $min+ runtime, e.g. Debian package openjdk-$min-jdk-headless"
    java=$(command -v java)
  fi
  major=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  major=${major#1.}
  if [ -z "$major" ] || [ "$major" -lt "$min" ]; then
    die "missing prerequisite: java $min+ is required, found '$("$java" -version 2>&1 | head -1)' at $java"
  fi
  echo "$java"
}

# maven_fetch_libs POM OUT_DIR: resolve the runtime dependencies declared in POM from Maven
# Central into the shared local repo under the cache dir and copy the jars into OUT_DIR
# (a flat classpath directory). Written to a temp dir and renamed, so an interrupted download
# never leaves a half-filled OUT_DIR that a later run would trust.
maven_fetch_libs() {
  local pom=$1 out=$2 mvnlog
  require_cmd mvn "Apache Maven, e.g. Debian package maven; used to fetch jars from Maven Central"
  mvnlog=$(dirname "$out")/maven.log
  rm -rf "$out.tmp"
  svc_log "fetching jars from Maven Central (log: $mvnlog)"
  if ! with_cache_lock mvn -B -q -f "$pom" \
    -Dmaven.repo.local="$CACHE_ROOT/maven-repo" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$out.tmp" >"$mvnlog" 2>&1; then
    tail -n 30 "$mvnlog" >&2
    die "Maven could not fetch the jars for $pom (full log: $mvnlog)"
  fi
  rm -rf "$out"
  mv "$out.tmp" "$out"
}
