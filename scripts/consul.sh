#!/usr/bin/env bash
# Locates, or installs into the repository, the Consul binary that the tests run.
#
#   scripts/consul.sh install   print the absolute path of a usable `consul` binary on stdout
#                               (nothing else goes to stdout; progress goes to stderr)
#
# Lookup order (the test-support class io.meshup.consul.testing.ConsulAgent uses the same):
#   1. $CONSUL_BIN, if set and executable
#   2. a `consul` on PATH
#   3. .tools/consul/usr/bin/consul, extracted by an earlier run of this script
#   4. otherwise fetch Debian's `consul` package (1.8.x, from the bullseye suite) with apt, using a
#      private apt configuration under .tools/apt/ so the system's apt state is never touched, and
#      extract it with `dpkg -x` into .tools/consul/.
#
# No archive host is written down here: the archive URI is read at run time from the system's own
# apt sources (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list), and the bullseye
# Release file must verify against the system's Debian archive keyring.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
APT_DIR="$TOOLS/apt"
CONSUL_DIR="$TOOLS/consul"
LOCAL_BIN="$CONSUL_DIR/usr/bin/consul"

SUITE="bullseye"
PACKAGE="consul"
WANT_VERSION_PREFIX="1.8."
SYSTEM_KEYRING="/usr/share/keyrings/debian-archive-keyring.gpg"
# Per-release keyrings shipped by the same Debian package (debian-archive-keyring); tried only if
# the combined system keyring cannot verify the bullseye Release file.
FALLBACK_KEYRINGS=(
  "/usr/share/keyrings/debian-archive-${SUITE}-automatic.gpg"
  "/usr/share/keyrings/debian-archive-${SUITE}-stable.gpg"
)

log() { printf 'consul.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# shellcheck source=lib/demo-server.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib/demo-server.sh"

usage() {
  cat >&2 <<EOF
usage: $0 install | start | stop | demo
  install  Prints the absolute path of a usable consul binary on stdout, installing Consul ${WANT_VERSION_PREFIX}x
           from Debian's ${SUITE} suite into .tools/consul/ if none is found.
  start    Starts a development agent on free loopback ports; prints its HTTP address (127.0.0.1:PORT)
           and keeps its pid and log in .consul/.
  stop     Stops the agent that start started.
  demo     Starts an agent, runs the payments demo against it (registry, self-registration and
           policy in Consul), and stops the agent.
EOF
}

# Prints "1.8.7" for a binary whose `consul version` first line is "Consul v1.8.7"; fails otherwise.
consul_version() {
  local out
  out="$("$1" version 2>/dev/null)" || return 1
  out="${out%%$'\n'*}"
  [[ $out =~ ^Consul\ v([0-9]+\.[0-9]+\.[0-9]+) ]] || return 1
  printf '%s\n' "${BASH_REMATCH[1]}"
}

absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

# Prints the archive URI of the system's main Debian entry (not -security/-updates/-backports).
system_archive_uri() {
  local uri=""
  local deb822="/etc/apt/sources.list.d/debian.sources"
  if [[ -r $deb822 ]]; then
    # deb822: paragraphs separated by blank lines; pick an enabled "deb" entry whose Suites contain
    # a suite without '-' or '/' (e.g. "bookworm"), and print its first URI.
    uri="$(awk '
      BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          split(line, kv, ":")
          key = tolower(kv[1]); sub(/^[^:]*:[ \t]*/, "", line)
          if (key == "types") types = line
          else if (key == "uris") uris = line
          else if (key == "suites") suites = line
          else if (key == "enabled") enabled = tolower(line)
        }
        if (enabled == "no" || (" " types " ") !~ / deb /) next
        n = split(suites, s, /[ \t]+/)
        for (j = 1; j <= n; j++) {
          if (s[j] != "" && s[j] !~ /[-\/]/) { split(uris, u, /[ \t]+/); print u[1]; exit }
        }
      }' "$deb822")"
  fi
  if [[ -z $uri && -r /etc/apt/sources.list ]]; then
    # one-line format: deb [options] URI suite component...
    uri="$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' /etc/apt/sources.list |
      awk '$1 == "deb" && $3 !~ /[-\/]/ && NF >= 3 { print $2; exit }')"
  fi
  [[ -n $uri ]] || die "could not find the system's Debian archive in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  printf '%s\n' "${uri%/}"
}

APT_OPTS=()

write_apt_config() {
  local uri="$1" keyring="$2"
  mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$APT_DIR/debs" "$APT_DIR/log"
  printf 'deb [signed-by=%s target=Packages pdiffs=no] %s %s main\n' "$keyring" "$uri" "$SUITE" \
    >"$APT_DIR/sources.list"
  : >"$APT_DIR/status"      # empty dpkg status: resolve the package as if nothing were installed
  : >"$APT_DIR/preferences" # no system pinning
  mkdir -p "$APT_DIR/preferences.d"
  # Read after /etc/apt/apt.conf.d (via -c), so these override it. The #clear lines drop hooks
  # that the system's configuration runs after `apt-get update` (PackageKit, appstream, docker
  # cache cleaning) and which would otherwise act on system state.
  cat >"$APT_DIR/apt.conf" <<EOF
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
Acquire::Languages "none";
Dir::Etc::preferences "$APT_DIR/preferences";
Dir::Etc::preferencesparts "$APT_DIR/preferences.d";
Dir::State "$APT_DIR";
Dir::State::extended_states "$APT_DIR/extended_states";
Dir::Log "$APT_DIR/log";
EOF
  APT_OPTS=(
    -c "$APT_DIR/apt.conf"
    -o "Dir::Etc::sourcelist=$APT_DIR/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::State::status=$APT_DIR/status"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "Dir::Cache::pkgcache=$APT_DIR/cache/pkgcache.bin"
    -o "Dir::Cache::srcpkgcache=$APT_DIR/cache/srcpkgcache.bin"
    -o "Debug::NoLocking=1"
    -o "APT::Get::List-Cleanup=0"
  )
}

# Verifies the downloaded bullseye Release file against a keyring (apt has already done so; this
# makes the check explicit and logs which key signed it).
verify_release() {
  local keyring="$1" release
  release="$(ls "$APT_DIR"/lists/*_dists_"${SUITE}"_InRelease 2>/dev/null | head -n 1 || true)"
  [[ -n $release ]] || return 1
  local status
  status="$(gpgv --status-fd 1 --keyring "$keyring" "$release" 2>/dev/null)" || return 1
  log "$(basename "$release") has a good signature: $(grep -m1 '^\[GNUPG:\] GOODSIG' <<<"$status" | cut -d' ' -f3-)"
}

apt_update() {
  local uri="$1" keyring
  for keyring in "$SYSTEM_KEYRING" "${FALLBACK_KEYRINGS[@]}"; do
    [[ -r $keyring ]] || continue
    write_apt_config "$uri" "$keyring"
    log "apt-get update ($SUITE main from $uri, signed-by $keyring, private state in $APT_DIR)"
    if apt-get "${APT_OPTS[@]}" -q update >&2 && verify_release "$keyring"; then
      return 0
    fi
    log "the $SUITE Release file did not verify with $keyring"
  done
  die "could not fetch a verified $SUITE Release file; is debian-archive-keyring (with the $SUITE keys) installed?"
}

fetch_consul() {
  command -v apt-get >/dev/null && command -v dpkg >/dev/null && command -v gpgv >/dev/null ||
    die "fetching Consul needs apt-get, dpkg and gpgv (a Debian-based system); or set CONSUL_BIN"
  local uri
  uri="$(system_archive_uri)"
  apt_update "$uri"

  local debs="$APT_DIR/debs"
  rm -f "$debs"/"${PACKAGE}"_*.deb
  # As root, apt downloads as the unprivileged _apt user, which must be able to write here.
  if [[ $EUID -eq 0 ]] && id -u _apt >/dev/null 2>&1; then chown _apt "$debs"; fi
  log "apt-get download $PACKAGE"
  (cd "$debs" && apt-get "${APT_OPTS[@]}" -q download "$PACKAGE" >&2)
  local deb
  deb="$(ls "$debs"/"${PACKAGE}"_*.deb 2>/dev/null | head -n 1 || true)"
  [[ -n $deb ]] || die "apt-get download $PACKAGE produced no .deb in $debs"
  log "downloaded $(basename "$deb") (version $(dpkg-deb -f "$deb" Version))"

  local tmp="$TOOLS/consul.tmp.$$"
  rm -rf "$tmp"
  dpkg -x "$deb" "$tmp"
  local version
  version="$(consul_version "$tmp/usr/bin/consul")" || { rm -rf "$tmp"; die "the extracted consul does not run"; }
  [[ $version == "$WANT_VERSION_PREFIX"* ]] || { rm -rf "$tmp"; die "expected Consul ${WANT_VERSION_PREFIX}x, got $version"; }
  rm -rf "$CONSUL_DIR"
  mv "$tmp" "$CONSUL_DIR"
  log "installed Consul v$version at $LOCAL_BIN"
}

local_consul_ok() {
  [[ -x $LOCAL_BIN ]] || return 1
  local version
  version="$(consul_version "$LOCAL_BIN")" || return 1
  [[ $version == "$WANT_VERSION_PREFIX"* ]]
}

cmd_install() {
  if [[ -n ${CONSUL_BIN:-} ]]; then
    if [[ -f $CONSUL_BIN && -x $CONSUL_BIN ]]; then
      absolute "$CONSUL_BIN"
      return 0
    fi
    log "ignoring CONSUL_BIN=$CONSUL_BIN: not an executable file"
  fi
  local onpath
  if onpath="$(type -P consul)"; then
    absolute "$onpath"
    return 0
  fi
  if local_consul_ok; then
    printf '%s\n' "$LOCAL_BIN"
    return 0
  fi

  mkdir -p "$TOOLS"
  # Serialise concurrent installs (e.g. parallel test JVMs); re-check once we hold the lock.
  exec 9>"$TOOLS/consul.lock"
  if command -v flock >/dev/null; then
    flock -w 900 9 || die "timed out waiting for another install (lock $TOOLS/consul.lock)"
  fi
  if ! local_consul_ok; then
    local started=$SECONDS
    fetch_consul
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

# The leader as the agent's HTTP API reports it, or nothing.
leader() {
  local reply
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /v1/status/leader HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && cat <&3) 2>/dev/null || true)
  printf '%s' "$reply" | tail -n 1 | tr -d '"\r'
}

STATE="$ROOT/.consul"

cmd_start() {
  local bin http
  bin=$(cmd_install)
  mkdir -p "$STATE"
  if [[ -f "$STATE/pid" ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
    cat "$STATE/addr"
    return 0
  fi
  http=$(free_port)
  "$bin" agent -dev -bind 127.0.0.1 -client 127.0.0.1 -node "meshup-demo-$$" \
    -http-port "$http" -dns-port "$(free_port)" -serf-lan-port "$(free_port)" -serf-wan-port "$(free_port)" \
    -server-port "$(free_port)" -grpc-port "$(free_port)" >"$STATE/agent.log" 2>&1 &
  echo $! >"$STATE/pid"
  echo "127.0.0.1:$http" >"$STATE/addr"
  ds_await "the agent" "$STATE/agent.log" has_leader "$http"
  log "agent up at 127.0.0.1:$http (log: $STATE/agent.log)"
  printf '127.0.0.1:%s\n' "$http"
}

# has_leader PORT: the agent on PORT knows its leader.
has_leader() { [[ -n "$(leader "$1")" ]]; }

cmd_stop() { ds_stop agent; }

cmd_demo() {
  local addr
  addr=$(cmd_start)
  trap cmd_stop EXIT
  (cd "$ROOT" && ./mvnw -q -DskipTests -pl examples -am install exec:java -Dexec.args="--consul $addr")
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  demo) cmd_demo ;;
  -h | --help | help) usage ;;
  *) usage; exit 2 ;;
esac
