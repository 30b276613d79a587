#!/usr/bin/env bash
# Throwaway backing services for the integration tests, one script per service in
# scripts/services/NAME.sh (postgres, kafka, …), each taking up|down|env (and status). This runs
# them together:
#
#   scripts/services.sh install [SERVICE...] install and cache what `up` needs, start nothing
#   scripts/services.sh up   [SERVICE...]   start (idempotent: already running is fine)
#   scripts/services.sh down [SERVICE...]   stop and remove what `up` started (reverse order)
#   scripts/services.sh env  [SERVICE...]   print `export NAME=value` lines: eval "$(scripts/services.sh env)"
#   scripts/services.sh status [SERVICE...]
#
# With no SERVICE: every scripts/services/*.sh. State lives under
# ${GRADESTREAM_SERVICES_DIR:-/tmp/gradestream-services}. A service whose variable is already set in
# the environment (e.g. GRADESTREAM_TEST_POSTGRES_URL) uses that server and starts nothing.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/services

known=()
for script in "$HERE"/*.sh; do
  [ -e "$script" ] && known+=("$(basename "$script" .sh)")
done

usage() {
  echo "usage: scripts/services.sh install|up|down|env|status [SERVICE...]   (services: ${known[*]})" >&2
  exit 2
}

[ $# -ge 1 ] || usage
command=$1
shift
case "$command" in install | up | down | env | status) ;; *) usage ;; esac
services=("$@")
[ ${#services[@]} -gt 0 ] || services=("${known[@]}")
for s in "${services[@]}"; do
  [ -f "$HERE/$s.sh" ] || { echo "services.sh: unknown service '$s' (known: ${known[*]})" >&2; exit 2; }
done

if [ "$command" = down ]; then
  status=0
  # Stop everything asked for even if one fails, in reverse order of starting.
  for ((i = ${#services[@]} - 1; i >= 0; i--)); do bash "$HERE/${services[$i]}.sh" down || status=1; done
  exit "$status"
fi
for s in "${services[@]}"; do bash "$HERE/$s.sh" "$command"; done
