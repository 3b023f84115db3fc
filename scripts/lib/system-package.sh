# Shared by scripts/etcd.sh and scripts/prometheus.sh (sourced, not run): finds a server binary,
# or installs it from a Debian package of the system's own suite into the repository's ignored
# .tools/, with `apt-get download` and `dpkg -x`; nothing is installed into the system.
#
# The sourcing script sets, before calling sp_install:
#   TOOL                 the name in messages (etcd, Prometheus)
#   BIN_NAME             the binary's name on PATH (etcd, prometheus)
#   BIN_VAR              the environment variable that may name it (ETCD_BIN, PROMETHEUS_BIN)
#   PACKAGE              the Debian package (etcd-server, prometheus)
#   WANT_VERSION_PREFIX  the versions accepted (3.4., 2.)
#   TOOLS, DIR, DEBS     .tools/, the extraction folder below it, the download folder
#   LOCAL_BIN            the binary inside DIR
#   log, die             its own message functions
#   tool_version BINARY  prints the binary's version (x.y.z) or fails
#
# The system's apt sources and keyring are used as they are: no archive host is written down
# here, and apt verifies what it downloads against the signed Release files of those sources.
# When the package lists are missing or stale (a fresh machine), `apt-get update` is run once,
# which needs root.

sp_absolute() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

sp_candidate() {
  apt-cache policy "$PACKAGE" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }'
}

sp_apt_update() {
  [[ $EUID -eq 0 ]] || die "the apt package lists do not offer $PACKAGE; run 'apt-get update' as root, or set $BIN_VAR"
  log "apt-get update (the system's own sources)"
  apt-get -q update >&2 || die "apt-get update failed"
}

sp_download() {
  rm -f "$DEBS"/"${PACKAGE}"_*.deb
  # As root, apt downloads as the unprivileged _apt user, which must be able to write here.
  if [[ $EUID -eq 0 ]] && id -u _apt >/dev/null 2>&1; then chown _apt "$DEBS"; fi
  log "apt-get download $PACKAGE"
  (cd "$DEBS" && apt-get -q download "$PACKAGE" >&2)
}

sp_fetch() {
  command -v apt-get >/dev/null && command -v apt-cache >/dev/null && command -v dpkg >/dev/null ||
    die "fetching $TOOL needs apt-get and dpkg (a Debian-based system); or set $BIN_VAR"
  mkdir -p "$DEBS"
  local version
  version="$(sp_candidate)"
  if [[ -z $version || $version == "(none)" ]]; then
    sp_apt_update
    version="$(sp_candidate)"
  fi
  [[ -n $version && $version != "(none)" ]] || die "the system's apt sources offer no $PACKAGE package"
  [[ $version == "$WANT_VERSION_PREFIX"* ]] || die "the system's apt sources offer $PACKAGE $version; expected ${WANT_VERSION_PREFIX}x"
  # stale lists name a file the archive no longer has: refresh them once and try again
  if ! sp_download; then
    sp_apt_update
    sp_download || die "apt-get download $PACKAGE failed"
  fi
  local deb
  deb="$(ls "$DEBS"/"${PACKAGE}"_*.deb 2>/dev/null | head -n 1 || true)"
  [[ -n $deb ]] || die "apt-get download $PACKAGE produced no .deb in $DEBS"
  log "downloaded $(basename "$deb") (version $(dpkg-deb -f "$deb" Version))"

  local tmp="$DIR.tmp.$$"
  rm -rf "$tmp"
  dpkg -x "$deb" "$tmp"
  local got
  got="$(tool_version "$tmp/${LOCAL_BIN#"$DIR"/}")" || { rm -rf "$tmp"; die "the extracted $BIN_NAME does not run"; }
  [[ $got == "$WANT_VERSION_PREFIX"* ]] || { rm -rf "$tmp"; die "expected $TOOL ${WANT_VERSION_PREFIX}x, got $got"; }
  rm -rf "$DIR"
  mv "$tmp" "$DIR"
  log "installed $TOOL $got at $LOCAL_BIN"
}

sp_local_ok() {
  [[ -x $LOCAL_BIN ]] || return 1
  local version
  version="$(tool_version "$LOCAL_BIN")" || return 1
  [[ $version == "$WANT_VERSION_PREFIX"* ]]
}

# Prints the absolute path of a usable binary on stdout (nothing else goes there): $BIN_VAR if set
# and executable, else one on PATH, else LOCAL_BIN from an earlier install, else a fresh install.
sp_install() {
  local named="${!BIN_VAR:-}"
  if [[ -n $named ]]; then
    if [[ -f $named && -x $named ]]; then
      sp_absolute "$named"
      return 0
    fi
    log "ignoring $BIN_VAR=$named: not an executable file"
  fi
  local onpath
  if onpath="$(type -P "$BIN_NAME")"; then
    sp_absolute "$onpath"
    return 0
  fi
  if sp_local_ok; then
    printf '%s\n' "$LOCAL_BIN"
    return 0
  fi

  mkdir -p "$TOOLS"
  # Serialise concurrent installs (e.g. parallel test JVMs); re-check once we hold the lock.
  exec 9>"$TOOLS/$BIN_NAME.lock"
  if command -v flock >/dev/null; then
    flock -w 900 9 || die "timed out waiting for another install (lock $TOOLS/$BIN_NAME.lock)"
  fi
  if ! sp_local_ok; then
    local started=$SECONDS
    sp_fetch
    log "install took $((SECONDS - started))s"
  fi
  printf '%s\n' "$LOCAL_BIN"
}
