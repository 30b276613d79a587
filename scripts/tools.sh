#!/usr/bin/env bash
# Debian tools some tests drive for real: promtool (package prometheus) checks the /metrics exposition
# and the chart's alerting rules, prometheus (same package) scrapes a running service and evaluates
# them, Chromium (package chromium) loads the admin page. Installs what is missing with apt-get (root), then
# prints `export` lines: eval "$(bash scripts/tools.sh)".
set -euo pipefail

need=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "scripts/tools.sh: needs apt-get to install ${need[*]}" >&2; exit 1; }
  echo "scripts/tools.sh: installing ${need[*]} (Debian)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
echo "export GRADESTREAM_PROMTOOL=$(command -v promtool)"
echo "export GRADESTREAM_PROMETHEUS=$(command -v prometheus)"
echo "export GRADESTREAM_CHROMIUM=/usr/bin/chromium"
