#!/usr/bin/env bash
# Prints the path of a kubeconform binary for the chart tests, building it once from the Go module proxy
# (github.com/yannh/kubeconform) when the machine has none; cached in $GOPATH/bin like scripts/helm.sh.
# `--schemas` prints instead the directory of the JSON schemas it validates against.
#
# kubeconform downloads its schemas from GitHub, which this machine cannot reach, so they are made once
# from registry packages and cached in ${XDG_CACHE_HOME:-~/.cache}/gradestream/kubeconform/ (a later run
# costs nothing; about 45 s the first time with empty Go and pip caches, most of it building kubeconform):
#   kubernetes/KIND[-GROUP]-VERSION.json  Kubernetes $KUBERNETES_VERSION, strict (no unknown fields), from
#                                         the PyPI package kubernetes-validate, which ships them;
#   crds/GROUP/KIND_VERSION.json          the Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule)
#                                         from its Go module, converted (scripts/kubeconform-schemas.mjs).
# Use both: -schema-location 'DIR/kubernetes/{{ .ResourceKind }}{{ .KindSuffix }}.json'
#           -schema-location 'DIR/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'
set -euo pipefail
KUBECONFORM_VERSION=${KUBECONFORM_VERSION:-v0.8.0}
# The Kubernetes release the chart is checked against (any one kubernetes-validate ships: 1.25 … 1.37).
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.30.0}
KUBERNETES_VALIDATE_VERSION=1.37.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
here="$(cd "$(dirname "$0")" && pwd)"
die() { echo "scripts/kubeconform.sh: $*" >&2; exit 1; }

schemas="${XDG_CACHE_HOME:-$HOME/.cache}/gradestream/kubeconform/k8s-$KUBERNETES_VERSION-po-$PROMETHEUS_OPERATOR_VERSION"
if [ ! -f "$schemas/.complete" ]; then
  command -v python3 >/dev/null 2>&1 || die "needs Python 3 (python3) with pip to fetch kubernetes-validate from PyPI"
  python3 -m pip --version >/dev/null 2>&1 || die "needs pip (python3 -m pip) to fetch kubernetes-validate from PyPI"
  command -v go >/dev/null 2>&1 || die "needs Go (go) to fetch the Prometheus Operator's CRDs from the Go module proxy"
  command -v node >/dev/null 2>&1 || die "needs Node.js (node) to convert the schemas"
  [ -d "$here/../node_modules/yaml" ] || die "needs the project's node_modules (run npm ci) to convert the CRDs"
  echo "scripts/kubeconform.sh: making the Kubernetes $KUBERNETES_VERSION and Prometheus Operator $PROMETHEUS_OPERATOR_VERSION schemas (once)" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp/wheel" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2 || die "pip could not download kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  # Only the one release's strict schemas (the wheel holds 26 sets).
  python3 - "$tmp"/wheel/*.whl "kubernetes_validate/kubernetes-json-schema/v$KUBERNETES_VERSION-local-strict/" "$tmp/raw" <<'EOF' || die "kubernetes-validate $KUBERNETES_VALIDATE_VERSION has no schemas for Kubernetes $KUBERNETES_VERSION"
import os, sys, zipfile
wheel, prefix, out = sys.argv[1:4]
names = [n for n in zipfile.ZipFile(wheel).namelist() if n.startswith(prefix) and n.endswith(".json")]
if not names:
    sys.exit(1)
os.makedirs(out)
with zipfile.ZipFile(wheel) as z:
    for n in names:
        with open(os.path.join(out, n[len(prefix):]), "wb") as f:
            f.write(z.read(n))
EOF
  module="github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
  download="$(GOFLAGS=-mod=mod go mod download -json "$module")" || die "go could not download $module: $download"
  crds="$(node -e 'console.log(JSON.parse(process.argv[1]).Dir ?? "")' "$download")/example/prometheus-operator-crd"
  [ -d "$crds" ] || die "the Go module $module has no $crds"
  node "$here/kubeconform-schemas.mjs" "$tmp/raw" "$tmp/out" \
    "$crds/monitoring.coreos.com_servicemonitors.yaml" "$crds/monitoring.coreos.com_prometheusrules.yaml" >&2
  touch "$tmp/out/.complete"
  mkdir -p "$(dirname "$schemas")"
  rm -rf "$schemas"
  mv "$tmp/out" "$schemas"
fi
if [ "${1:-}" = "--schemas" ]; then echo "$schemas"; exit 0; fi

if command -v kubeconform >/dev/null 2>&1; then command -v kubeconform; exit 0; fi
bin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin/kubeconform"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null 2>&1 || die "needs Go (go) to build kubeconform $KUBECONFORM_VERSION"
  echo "scripts/kubeconform.sh: building kubeconform $KUBECONFORM_VERSION (once)" >&2
  GOFLAGS=-mod=mod go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >&2
fi
echo "$bin"
