#!/usr/bin/env bash
# The whole test suite (`npm test`): builds, starts the real services the integration tests use
# (scripts/services.sh), runs vitest, and stops the services again whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build
services=(postgres kafka moto)
trap 'bash scripts/services.sh down "${services[@]}"' EXIT
bash scripts/services.sh up "${services[@]}"
eval "$(bash scripts/services.sh env "${services[@]}")"

# Debian's promtool, prometheus and Chromium (metrics exposition, alerting rules, admin page).
eval "$(bash scripts/tools.sh)"

# The chart tests render the Helm chart with a real helm.
GRADESTREAM_HELM=$(bash scripts/helm.sh)
export GRADESTREAM_HELM
# kubeconform checks every rendered ci/*-values.yaml against schemas made once, offline.
GRADESTREAM_KUBECONFORM=$(bash scripts/kubeconform.sh)
GRADESTREAM_KUBE_SCHEMAS=$(bash scripts/kubeconform.sh --schemas)
export GRADESTREAM_KUBECONFORM GRADESTREAM_KUBE_SCHEMAS

mkdir -p var
npx vitest run --reporter=default --reporter=json --outputFile.json=var/test-results.json "$@"
