#!/usr/bin/env bash
# The benchmark of issue 6, in one command (from the repository root or anywhere):
#
#   jmh/bench.sh            3 repetitions of the end-to-end run (each process pinned: clients on one
#                           CPU, servers and proxies on the other, swapped in even repetitions; 60 s
#                           open-loop windows), then the in-process JMH figures, then the results
#                           table (≈ 60 min on 2 cores)
#   jmh/bench.sh --quick    1 short repetition and short JMH runs (≈ 2.5 min): checks the harness,
#                           its figures mean nothing
#
# Options: --runs N, --no-jmh, --no-build, --no-pin, --rate R (open-loop req/s, gRPC; default 1000),
#          --http-rate R (open-loop req/s, HTTP; default 500), --concurrency C (closed loop; 16),
#          --warmup S --closed S --open S (seconds per configuration; 10, 8, 60).
#
# Writes, in jmh/results/:  e2e-<stamp>-runK.{json,txt}  one per repetition (every figure; the log)
#                           e2e-<stamp>-jmh.{json,txt}   request path, registry update, TLS handshake
#                           e2e-<stamp>-machine.txt      machine, JVM, HAProxy
#                           e2e-<stamp>-summary.md       the table (also printed on stdout)
#
# HAProxy (for the sidecar pair): $HAPROXY_BIN if set, else `haproxy` on PATH, else
# .tools/haproxy/ (extracted by an earlier run), else Debian's package of the system's own suite is
# fetched with `apt-get download` (no root, nothing installed system-wide) and extracted with
# `dpkg -x` into .tools/haproxy/, with the libraries it needs that the system lacks; a wrapper
# .tools/haproxy/haproxy sets LD_LIBRARY_PATH for them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RESULTS="$ROOT/jmh/results"
TOOLS="$ROOT/.tools"
HAP_DIR="$TOOLS/haproxy"
JAR="$ROOT/jmh/target/benchmarks.jar"

RUNS=3
JMH=1
BUILD=1
WARMUP=10
SERVER_WARMUP=15
CLOSED=8
OPEN=60
PIN=1
RATE=1000
HTTP_RATE=500
CONCURRENCY=16
JMH_OPTS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) RUNS=1; WARMUP=2; CLOSED=3; OPEN=3; SERVER_WARMUP=3; JMH_OPTS=(-wi 1 -i 2 -w 1 -r 1); shift ;;
    --no-pin) PIN=0; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --no-jmh) JMH=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --rate) RATE="$2"; shift 2 ;;
    --http-rate) HTTP_RATE="$2"; shift 2 ;;
    --concurrency) CONCURRENCY="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --closed) CLOSED="$2"; shift 2 ;;
    --open) OPEN="$2"; shift 2 ;;
    *) sed -n '2,22p' "$0" >&2; exit 2 ;;
  esac
done

log() { printf 'bench.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

missing_libs() { # binary [libdir]
  LD_LIBRARY_PATH="${2:-}" ldd "$1" 2>/dev/null | awk '/not found/ {print $1}'
}

install_haproxy() {
  command -v apt-get >/dev/null && command -v dpkg >/dev/null || die "no haproxy, and no apt-get/dpkg to fetch it; set HAPROXY_BIN"
  log "fetching Debian's haproxy package into $HAP_DIR (apt-get download, dpkg -x; nothing installed system-wide)"
  rm -rf "$HAP_DIR"
  mkdir -p "$HAP_DIR/debs"
  local want=(haproxy) seen=" " pkg dep
  # haproxy, then (3 levels deep) every lib* dependency the system does not have installed
  for _ in 1 2 3 4; do
    local next=()
    for pkg in "${want[@]}"; do
      [[ $seen == *" $pkg "* ]] && continue
      seen+="$pkg "
      (cd "$HAP_DIR/debs" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) \
        || die "apt-get download $pkg failed"
      for dep in $(apt-cache depends "$pkg" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^lib/ {print $2}'); do
        dpkg -s "$dep" >/dev/null 2>&1 || next+=("$dep")
      done
    done
    [[ ${#next[@]} -eq 0 ]] && break
    want=("${next[@]}")
  done
  local deb
  for deb in "$HAP_DIR"/debs/*.deb; do
    dpkg -x "$deb" "$HAP_DIR"
  done
  [[ -x $HAP_DIR/usr/sbin/haproxy ]] || die "the haproxy package did not contain usr/sbin/haproxy"
  local libdir
  libdir="$(find "$HAP_DIR/usr/lib" -name '*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd: -)"
  cat > "$HAP_DIR/haproxy" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$HAP_DIR/usr/sbin/haproxy" "\$@"
EOF
  chmod +x "$HAP_DIR/haproxy"
  local miss
  miss="$(missing_libs "$HAP_DIR/usr/sbin/haproxy" "$libdir")"
  [[ -z $miss ]] || die "haproxy still lacks shared libraries: $miss"
}

find_haproxy() {
  if [[ -n ${HAPROXY_BIN:-} ]]; then
    [[ -x $HAPROXY_BIN ]] || die "HAPROXY_BIN=$HAPROXY_BIN is not executable"
    echo "$HAPROXY_BIN"; return
  fi
  if command -v haproxy >/dev/null; then command -v haproxy; return; fi
  if [[ ! -x $HAP_DIR/haproxy ]]; then install_haproxy; fi
  "$HAP_DIR/haproxy" -v >/dev/null 2>&1 || die "$HAP_DIR/haproxy does not run: $("$HAP_DIR/haproxy" -v 2>&1 | head -3)"
  echo "$HAP_DIR/haproxy"
}

HAPROXY="$(find_haproxy)"
log "haproxy: $HAPROXY ($("$HAPROXY" -v 2>&1 | head -1))"

if [[ $BUILD == 1 ]]; then
  log "building jmh and the modules it needs"
  ./mvnw -q -DskipTests ${MVN_FLAGS:-} package -pl jmh -am
fi
[[ -f $JAR ]] || die "$JAR is missing; build it (drop --no-build)"

mkdir -p "$RESULTS"
STAMP="$(date -u +%Y%m%d-%H%M)"
PREFIX="$RESULTS/e2e-$STAMP"
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet -- mesh-core mesh-grpc mesh-http 2>/dev/null || echo ' (with local changes in mesh-core/grpc/http)')"
  echo "nproc: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo || true
  grep MemTotal /proc/meminfo || true
  echo "kernel: $(uname -sr)"
  java -version 2>&1
  "$HAPROXY" -v 2>&1 | head -1
  echo "CLK_TCK: $(getconf CLK_TCK)"
  echo "options: runs=$RUNS warmup=$WARMUP closed=$CLOSED open=$OPEN rate=$RATE http_rate=$HTTP_RATE concurrency=$CONCURRENCY"
  echo "load: $(cat /proc/loadavg)"
} > "$PREFIX-machine.txt"

start=$SECONDS
for k in $(seq 1 "$RUNS"); do
  # even repetitions run the configurations in reverse order, so drift does not favour one position
  reverse=false; (( k % 2 == 0 )) && reverse=true
  # with 2 CPUs: the clients on one, the servers and proxies on the other; swapped in even
  # repetitions, as a check that neither CPU favours a side
  pin=()
  if [[ $PIN == 1 && $(nproc) -ge 2 ]]; then
    if (( k % 2 == 1 )); then pin=(--clientCpus 1 --serverCpus 0); else pin=(--clientCpus 0 --serverCpus 1); fi
  fi
  log "end-to-end run $k of $RUNS (reverse order: $reverse; ${pin[*]:-unpinned}) -> $PREFIX-run$k.{json,txt}"
  java -cp "$JAR" io.meshup.jmh.e2e.LoadDriver --out "$PREFIX-run$k" --haproxy "$HAPROXY" --reverse "$reverse" "${pin[@]}" \
    --serverWarmup "$SERVER_WARMUP" \
    --warmup "$WARMUP" --closed "$CLOSED" --open "$OPEN" --rate "$RATE" --httpRate "$HTTP_RATE" --concurrency "$CONCURRENCY" \
    --clkTck "$(getconf CLK_TCK)"
done
log "end-to-end runs took $((SECONDS - start)) s"

JMH_ARGS=()
if [[ $JMH == 1 ]]; then
  log "JMH: request path, registry update, TLS handshake -> $PREFIX-jmh.{json,txt}"
  start=$SECONDS
  java -jar "$JAR" 'RequestPathBenchmark.(requestPath|baseline)$|RegistryUpdateBenchmark|TlsHandshakeBenchmark' \
    -prof gc "${JMH_OPTS[@]}" -rf json -rff "$PREFIX-jmh.json" > "$PREFIX-jmh.txt" 2>&1 \
    || die "JMH failed; see $PREFIX-jmh.txt"
  log "JMH took $((SECONDS - start)) s"
  JMH_ARGS=(--jmh "$PREFIX-jmh.json")
fi

python3 "$ROOT/jmh/tools/e2e_summary.py" "$PREFIX"-run*.json "${JMH_ARGS[@]}" > "$PREFIX-summary.md"
cat "$PREFIX-summary.md"
log "table: $PREFIX-summary.md"
