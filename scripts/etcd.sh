#!/usr/bin/env bash
# Locates, or installs into the repository, the etcd server binary that the tests run.
#
#   scripts/etcd.sh install   print the absolute path of a usable `etcd` binary on stdout
#                             (nothing else goes to stdout; progress goes to stderr)
#
# Lookup order (the test-support class io.meshup.etcd.testing.EtcdCluster uses the same):
#   1. $ETCD_BIN, if set and executable
#   2. an `etcd` on PATH
#   3. .tools/etcd/usr/bin/etcd, extracted by an earlier run of this script
#   4. otherwise fetch Debian's `etcd-server` package (3.4.x) with `apt-get download` and extract
#      it with `dpkg -x` into .tools/etcd/; nothing is installed into the system.
#
# Unlike Consul (which scripts/consul.sh takes from an older Debian suite through a private apt
# configuration), etcd 3.4 is in the system's own suite, so the system's apt sources and keyring
# are used as they are: no archive host is written down here, and apt verifies what it downloads
# against the signed Release files of those sources. When the package lists are missing or stale
# (a fresh machine), `apt-get update` is run once, which needs root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
ETCD_DIR="$TOOLS/etcd"
DEBS="$TOOLS/etcd-debs"
LOCAL_BIN="$ETCD_DIR/usr/bin/etcd"
STATE="$TOOLS/etcd-demo"

PACKAGE="etcd-server"
WANT_VERSION_PREFIX="3.4."

log() { printf 'etcd.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  cat >&2 <<EOF
usage: $0 install | start | stop | demo
  install  Prints the absolute path of a usable etcd binary on stdout, extracting Debian's
           $PACKAGE ${WANT_VERSION_PREFIX}x into .tools/etcd/ if none is found.
  start    Starts a single etcd member on free loopback ports; prints its client address
           (127.0.0.1:PORT) and keeps its pid, data and log in .tools/etcd-demo/.
  stop     Stops the member that start started.
  demo     Starts a member, runs the payments demo against it (discovery, self-registration with
           leases, and policy in etcd), and stops the member.
EOF
}

# Prints "3.4.23" for a binary whose `etcd --version` first line is "etcd Version: 3.4.23".
etcd_version() {
  local out
  out="$("$1" --version 2>/dev/null)" || return 1
  out="${out%%$'\n'*}"
  [[ $out =~ ^etcd\ Version:\ ([0-9]+\.[0-9]+\.[0-9]+) ]] || return 1
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
  [[ $EUID -eq 0 ]] || die "the apt package lists do not offer $PACKAGE; run 'apt-get update' as root, or set ETCD_BIN"
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

fetch_etcd() {
  command -v apt-get >/dev/null && command -v apt-cache >/dev/null && command -v dpkg >/dev/null ||
    die "fetching etcd needs apt-get and dpkg (a Debian-based system); or set ETCD_BIN"
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

  local tmp="$TOOLS/etcd.tmp.$$"
  rm -rf "$tmp"
  dpkg -x "$deb" "$tmp"
  local got
  got="$(etcd_version "$tmp/usr/bin/etcd")" || { rm -rf "$tmp"; die "the extracted etcd does not run"; }
  [[ $got == "$WANT_VERSION_PREFIX"* ]] || { rm -rf "$tmp"; die "expected etcd ${WANT_VERSION_PREFIX}x, got $got"; }
  rm -rf "$ETCD_DIR"
  mv "$tmp" "$ETCD_DIR"
  log "installed etcd $got at $LOCAL_BIN"
}

local_etcd_ok() {
  [[ -x $LOCAL_BIN ]] || return 1
  local version
  version="$(etcd_version "$LOCAL_BIN")" || return 1
  [[ $version == "$WANT_VERSION_PREFIX"* ]]
}

cmd_install() {
  if [[ -n ${ETCD_BIN:-} ]]; then
    if [[ -f $ETCD_BIN && -x $ETCD_BIN ]]; then
      absolute "$ETCD_BIN"
      return 0
    fi
    log "ignoring ETCD_BIN=$ETCD_BIN: not an executable file"
  fi
  local onpath
  if onpath="$(type -P etcd)"; then
    absolute "$onpath"
    return 0
  fi
  if local_etcd_ok; then
    printf '%s\n' "$LOCAL_BIN"
    return 0
  fi

  mkdir -p "$TOOLS"
  # Serialise concurrent installs (e.g. parallel test JVMs); re-check once we hold the lock.
  exec 9>"$TOOLS/etcd.lock"
  if command -v flock >/dev/null; then
    flock -w 900 9 || die "timed out waiting for another install (lock $TOOLS/etcd.lock)"
  fi
  if ! local_etcd_ok; then
    local started=$SECONDS
    fetch_etcd
    log "install took $((SECONDS - started))s"
  fi
  printf '%s\n' "$LOCAL_BIN"
}

# A loopback TCP port nothing listens on (random draw, checked with bash's /dev/tcp).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  die "no free loopback port found"
}

# True when the member's /health answers {"health":"true"}.
healthy() {
  local reply
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3) 2>/dev/null || true)
  [[ $reply == *'"health":"true"'* ]]
}

cmd_start() {
  local bin client peer
  bin=$(cmd_install)
  mkdir -p "$STATE"
  if [[ -f "$STATE/pid" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
    cat "$STATE/addr"
    return 0
  fi
  client=$(free_port)
  peer=$(free_port)
  rm -rf "$STATE/data"
  "$bin" --name meshup-demo --data-dir "$STATE/data" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "meshup-demo=http://127.0.0.1:$peer" >"$STATE/etcd.log" 2>&1 &
  echo $! >"$STATE/pid"
  echo "127.0.0.1:$client" >"$STATE/addr"
  for _ in $(seq 1 150); do
    if healthy "$client"; then
      log "etcd up at 127.0.0.1:$client (log: $STATE/etcd.log)"
      printf '127.0.0.1:%s\n' "$client"
      return 0
    fi
    kill -0 "$(cat "$STATE/pid")" 2>/dev/null || { tail -n 30 "$STATE/etcd.log" >&2; die "etcd exited"; }
    sleep 0.2
  done
  tail -n 30 "$STATE/etcd.log" >&2
  die "etcd was not healthy within 30 s"
}

cmd_stop() {
  if [[ -f "$STATE/pid" ]]; then
    local pid
    pid=$(cat "$STATE/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    rm -f "$STATE/pid" "$STATE/addr"
    log "etcd stopped"
  fi
}

cmd_demo() {
  local addr
  addr=$(cmd_start)
  trap cmd_stop EXIT
  # compile, not install: the reactor hands the modules' classes to exec:java directly
  (cd "$ROOT" && ./mvnw -q -DskipTests -pl examples -am compile exec:java -Dexec.args="--etcd $addr")
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  demo) cmd_demo ;;
  -h | --help | help) usage ;;
  *) usage; exit 2 ;;
esac
