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
#   4. otherwise fetch Debian's `prometheus` package (2.x) with `apt-get download` and extract it
#      with `dpkg -x` into .tools/prometheus/ (its `promtool` comes along); nothing is installed
#      into the system. The web console's JavaScript packages it depends on are not needed for the
#      HTTP API the tests use, and are not fetched.
#
# As for etcd (scripts/etcd.sh), the package is in the system's own suite, so the system's apt
# sources and keyring are used as they are: no archive host is written down here, and apt verifies
# what it downloads against the signed Release files of those sources. When the package lists are
# missing or stale (a fresh machine), `apt-get update` is run once, which needs root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
PROM_DIR="$TOOLS/prometheus"
DEBS="$TOOLS/prometheus-debs"
LOCAL_BIN="$PROM_DIR/usr/bin/prometheus"

PACKAGE="prometheus"
WANT_VERSION_PREFIX="2."

log() { printf 'prometheus.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  cat >&2 <<EOF2
usage: $0 install
  install  Prints the absolute path of a usable prometheus binary on stdout, extracting Debian's
           $PACKAGE ${WANT_VERSION_PREFIX}x into .tools/prometheus/ if none is found.
EOF2
}

# Prints "2.42.0" for a binary whose `prometheus --version` first line is "prometheus, version 2.42.0+ds (...)".
prometheus_version() {
  local out
  out="$("$1" --version 2>&1)" || return 1
  out="${out%%$'\n'*}"
  [[ $out =~ ^prometheus,\ version\ ([0-9]+\.[0-9]+\.[0-9]+) ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}

absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

candidate() {
  apt-cache policy "$PACKAGE" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }'
}

apt_update() {
  [[ $EUID -eq 0 ]] || die "the apt package lists do not offer $PACKAGE; run 'apt-get update' as root, or set PROMETHEUS_BIN"
  log "apt-get update (the system's own sources)"
  apt-get -q update >&2 || die "apt-get update failed"
}

download() {
  rm -f "$DEBS"/"${PACKAGE}"_*.deb
  # As root, apt downloads as the unprivileged _apt user, which must be able to write here.
  if [[ $EUID -eq 0 ]] && id -u _apt >/dev/null 2>&1; then chown _apt "$DEBS"; fi
  log "apt-get download $PACKAGE"
  (cd "$DEBS" && apt-get -q download "$PACKAGE" >&2)
}

fetch_prometheus() {
  command -v apt-get >/dev/null && command -v apt-cache >/dev/null && command -v dpkg >/dev/null ||
    die "fetching Prometheus needs apt-get and dpkg (a Debian-based system); or set PROMETHEUS_BIN"
  mkdir -p "$DEBS"
  local version
  version="$(candidate)"
  if [[ -z $version || $version == "(none)" ]]; then
    apt_update
    version="$(candidate)"
  fi
  [[ -n $version && $version != "(none)" ]] || die "the system's apt sources offer no $PACKAGE package"
  [[ $version == "$WANT_VERSION_PREFIX"* ]] || die "the system's apt sources offer $PACKAGE $version; expected ${WANT_VERSION_PREFIX}x"
  # stale lists name a file the archive no longer has: refresh them once and try again
  if ! download; then
    apt_update
    download || die "apt-get download $PACKAGE failed"
  fi
  local deb
  deb="$(ls "$DEBS"/"${PACKAGE}"_*.deb 2>/dev/null | head -n 1 || true)"
  [[ -n $deb ]] || die "apt-get download $PACKAGE produced no .deb in $DEBS"
  log "downloaded $(basename "$deb") (version $(dpkg-deb -f "$deb" Version))"

  local tmp="$TOOLS/prometheus.tmp.$$"
  rm -rf "$tmp"
  dpkg -x "$deb" "$tmp"
  local got
  got="$(prometheus_version "$tmp/usr/bin/prometheus")" || { rm -rf "$tmp"; die "the extracted prometheus does not run"; }
  [[ $got == "$WANT_VERSION_PREFIX"* ]] || { rm -rf "$tmp"; die "expected Prometheus ${WANT_VERSION_PREFIX}x, got $got"; }
  rm -rf "$PROM_DIR"
  mv "$tmp" "$PROM_DIR"
  log "installed Prometheus $got at $LOCAL_BIN"
}

local_prometheus_ok() {
  [[ -x $LOCAL_BIN ]] || return 1
  local version
  version="$(prometheus_version "$LOCAL_BIN")" || return 1
  [[ $version == "$WANT_VERSION_PREFIX"* ]]
}

cmd_install() {
  if [[ -n ${PROMETHEUS_BIN:-} ]]; then
    if [[ -f $PROMETHEUS_BIN && -x $PROMETHEUS_BIN ]]; then
      absolute "$PROMETHEUS_BIN"
      return 0
    fi
    log "ignoring PROMETHEUS_BIN=$PROMETHEUS_BIN: not an executable file"
  fi
  local onpath
  if onpath="$(type -P prometheus)"; then
    absolute "$onpath"
    return 0
  fi
  if local_prometheus_ok; then
    printf '%s\n' "$LOCAL_BIN"
    return 0
  fi

  mkdir -p "$TOOLS"
  # Serialise concurrent installs (e.g. parallel test JVMs); re-check once we hold the lock.
  exec 9>"$TOOLS/prometheus.lock"
  if command -v flock >/dev/null; then
    flock -w 900 9 || die "timed out waiting for another install (lock $TOOLS/prometheus.lock)"
  fi
  if ! local_prometheus_ok; then
    local started=$SECONDS
    fetch_prometheus
    log "install took $((SECONDS - started))s"
  fi
  printf '%s\n' "$LOCAL_BIN"
}

case "${1:-}" in
  install) cmd_install ;;
  -h | --help | help) usage ;;
  *) usage; exit 2 ;;
esac
