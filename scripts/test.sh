#!/usr/bin/env bash
# The whole test suite (`npm test`): builds, starts the real services the integration tests use
# (scripts/services.sh), runs vitest, and stops the services again whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build
bash scripts/services.sh up postgres
trap 'bash scripts/services.sh down postgres' EXIT
eval "$(bash scripts/services.sh env postgres)"

# The chart tests render the Helm chart with a real helm.
GRADESTREAM_HELM=$(bash scripts/helm.sh)
export GRADESTREAM_HELM

mkdir -p var
npx vitest run --reporter=default --reporter=json --outputFile.json=var/test-results.json "$@"
