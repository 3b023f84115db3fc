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
# (a fresh machine), `apt-get update` is run once, which needs root. How: scripts/lib/system-package.sh
# (shared with scripts/prometheus.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
DIR="$TOOLS/etcd"
DEBS="$TOOLS/etcd-debs"
LOCAL_BIN="$DIR/usr/bin/etcd"
STATE="$TOOLS/etcd-demo"
TOOL="etcd"
BIN_NAME="etcd"
BIN_VAR="ETCD_BIN"

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
tool_version() {
  local out
  out="$("$1" --version 2>/dev/null)" || return 1
  out="${out%%$'\n'*}"
  [[ $out =~ ^etcd\ Version:\ ([0-9]+\.[0-9]+\.[0-9]+) ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}

# shellcheck source=lib/system-package.sh
source "$ROOT/scripts/lib/system-package.sh"
# shellcheck source=lib/demo-server.sh
source "$ROOT/scripts/lib/demo-server.sh"

cmd_install() {
  sp_install
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
  ds_await etcd "$STATE/etcd.log" healthy "$client"
  log "etcd up at 127.0.0.1:$client (log: $STATE/etcd.log)"
  printf '127.0.0.1:%s\n' "$client"
}

cmd_stop() { ds_stop etcd; }

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
