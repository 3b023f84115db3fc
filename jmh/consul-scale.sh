#!/usr/bin/env bash
# The Consul scale run of issue 19, in one command (from the repository root or anywhere):
#
#   jmh/consul-scale.sh                     3 repetitions at 100, 300 and 1,000 destinations (≈ 15 min on 2 cores)
#   jmh/consul-scale.sh --sizes 1000 --runs 1
#   jmh/consul-scale.sh --sizes "" --leader-loss 100       only the leader-loss run, at 100 destinations
#
# Options: --sizes "100 300 1000", --runs N, --steady S (seconds of steady traffic; 20), --rate R
#          (calls/s; 500), --changes N (health changes; 50), --label L (names the result files),
#          --leader-loss N (also the leader-loss run at N destinations: leader SIGKILLed, then quorum
#          lost for --outage S seconds, 20, under traffic), --no-build.
#
# Each run is a JVM of its own (io.meshup.jmh.ConsulScaleMain) that starts a 3-server Consul cluster
# with two client agents (Consul 1.8.7, found or installed as the tests find it: $CONSUL_BIN, PATH,
# .tools/consul/), so its threads, sockets and heap are the run's own. Writes, in jmh/results/:
#   consul-scale-<label>-<size>-runK.json   every figure of one run
#   consul-scale-<label>-<size>-runK.txt    its log
#   consul-scale-<label>-summary.md         the table of medians (also printed)
#   consul-scale-<label>-leader-loss.json   the leader-loss run (and .txt, its log)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RESULTS="$ROOT/jmh/results"
JAR="$ROOT/jmh/target/benchmarks.jar"
SIZES="100 300 1000"
RUNS=3
STEADY=20
RATE=500
CHANGES=50
BUILD=1
LEADER_LOSS=""
OUTAGE=20
LABEL="$(date -u +%Y%m%d-%H%M)"
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --steady) STEADY="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --changes) CHANGES="$2"; shift 2 ;;
    --label) LABEL="$2"; shift 2 ;;
    --leader-loss) LEADER_LOSS="$2"; shift 2 ;;
    --outage) OUTAGE="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

if [ "$BUILD" = 1 ]; then
  ./mvnw -B -ntp -q ${MVN_FLAGS:-} -DskipTests package -pl jmh -am
fi
# slf4j-simple beside the jar (not in it, so the other benchmarks stay unlogged): the run counts WARN lines
SLF4J_VERSION="$(sed -n 's:.*<slf4j.version>\(.*\)</slf4j.version>.*:\1:p' pom.xml)"
SLF4J_JAR="${HOME}/.m2/repository/org/slf4j/slf4j-simple/${SLF4J_VERSION}/slf4j-simple-${SLF4J_VERSION}.jar"
[ -f "$SLF4J_JAR" ] || ./mvnw -B -ntp -q ${MVN_FLAGS:-} dependency:get -Dartifact="org.slf4j:slf4j-simple:${SLF4J_VERSION}"
mkdir -p "$RESULTS"
{
  echo "date: $(date -u)"; echo "commit: $(git rev-parse --short HEAD) $(git status --porcelain | wc -l) uncommitted files"
  echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"; echo "load: $(cat /proc/loadavg)"
  java -version 2>&1 | head -1
} > "$RESULTS/consul-scale-$LABEL-machine.txt"

run_java() { # <result base> <ConsulScaleMain arguments...>
  local base="$1"; shift
  # a working directory of its own: the cluster's data and logs go to ./target/consul/
  local work; work="$(mktemp -d)"
  (cd "$work" && java -Xms1g -Xmx2g -cp "$JAR:$SLF4J_JAR" -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
    io.meshup.jmh.ConsulScaleMain "$@" --out "$base.json" > "$base.txt" 2>&1) \
    || { echo "run failed; see $base.txt" >&2; tail -20 "$base.txt" >&2; exit 1; }
  rm -rf "$work"
  tail -1 "$base.json"
}

for run in $(seq 1 "$RUNS"); do
  for size in $SIZES; do
    base="$RESULTS/consul-scale-$LABEL-$size-run$run"
    echo "== run $run, $size destinations (load $(cut -d' ' -f1-3 /proc/loadavg))"
    run_java "$base" "$size" --steady "$STEADY" --rate "$RATE" --changes "$CHANGES"
  done
done
if [ -n "$SIZES" ]; then
  python3 "$ROOT/jmh/tools/consul_scale_table.py" "$RESULTS"/consul-scale-"$LABEL"-*-run*.json | tee "$RESULTS/consul-scale-$LABEL-summary.md"
fi
if [ -n "$LEADER_LOSS" ]; then
  echo "== leader loss, $LEADER_LOSS destinations, quorum lost for $OUTAGE s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  run_java "$RESULTS/consul-scale-$LABEL-leader-loss" leader-loss "$LEADER_LOSS" --rate "$RATE" --outage "$OUTAGE"
fi
