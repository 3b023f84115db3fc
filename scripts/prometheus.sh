#!/usr/bin/env bash
# Locates, or installs into the repository, the Prometheus server binary that the tests run.
#
#   scripts/prometheus.sh install   print the absolute path of a usable `prometheus` binary on stdout
#                                   (nothing else goes to stdout; progress goes to stderr)
#
# Lookup order (the test-support class io.meshup.core.testing.PrometheusServer uses the same):
#   1. $PROMETHEUS_BIN, if set and executable
#   2. a `prometheus` on PATH
#   3. .tools/prometheus/usr/bin/prometheus, extracted by an earlier run of this script
#   4. otherwise fetch Debian's `prometheus` package (2.x) from the system's own suite with
#      `apt-get download` and extract it with `dpkg -x` into .tools/prometheus/ (its `promtool`
#      comes along); nothing is installed into the system, and the web console's JavaScript
#      packages it depends on are not needed for the HTTP API the tests use. How: scripts/lib/system-package.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
DIR="$TOOLS/prometheus"
DEBS="$TOOLS/prometheus-debs"
LOCAL_BIN="$DIR/usr/bin/prometheus"
TOOL="Prometheus"
BIN_NAME="prometheus"
BIN_VAR="PROMETHEUS_BIN"
PACKAGE="prometheus"
WANT_VERSION_PREFIX="2."

log() { printf 'prometheus.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Prints "2.42.0" for a binary whose `prometheus --version` first line is "prometheus, version 2.42.0+ds (...)".
tool_version() {
  local out
  out="$("$1" --version 2>&1)" || return 1
  out="${out%%$'\n'*}"
  [[ $out =~ ^prometheus,\ version\ ([0-9]+\.[0-9]+\.[0-9]+) ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}

# shellcheck source=lib/system-package.sh
source "$ROOT/scripts/lib/system-package.sh"

usage() {
  cat >&2 <<EOF2
usage: $0 install
  install  Prints the absolute path of a usable prometheus binary on stdout, extracting Debian's
           $PACKAGE ${WANT_VERSION_PREFIX}x into .tools/prometheus/ if none is found.
EOF2
}

case "${1:-}" in
  install) sp_install ;;
  -h | --help | help) usage ;;
  *) usage; exit 2 ;;
esac
