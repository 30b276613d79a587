#!/usr/bin/env bash
# Prints the path of a helm binary for the chart tests, building it once from the Go module proxy
# (helm.sh/helm/v3) when the machine has none. Cached in $GOPATH/bin (about 2 minutes the first time).
set -euo pipefail
VERSION=${HELM_VERSION:-v3.22.0}
if command -v helm >/dev/null 2>&1; then command -v helm; exit 0; fi
bin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin/helm"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null 2>&1 || { echo "scripts/helm.sh: needs Go (go) to build helm $VERSION" >&2; exit 1; }
  echo "scripts/helm.sh: building helm $VERSION (once)" >&2
  GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$VERSION" >&2
fi
echo "$bin"
