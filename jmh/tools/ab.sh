#!/usr/bin/env bash
# A/B of the request path between two commits, in one run, alternating, pinned to one core:
#
#   jmh/tools/ab.sh <base-rev> [reps]     (default 3 repetitions; ≈ 1 min per jar and repetition)
#
# Builds benchmarks.jar at <base-rev> (in a temporary git worktree) and at the working tree, then
# runs RequestPathBenchmark.(requestPath|requestPathRoundRobin|baseline) at N = 10 and 1000 with
# -prof gc under `taskset -c 1`, base and new alternating, and prints the medians of each with the
# spread of the runs. Raw files: jmh/results/ab-<stamp>-{base,new}-runK.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE="${1:?usage: jmh/tools/ab.sh <base-rev> [reps]}"
REPS="${2:-3}"
STAMP="$(date -u +%Y%m%d-%H%M)"
OUT="$ROOT/jmh/results"
WT="$(mktemp -d)/base"
trap 'git -C "$ROOT" worktree remove --force "$WT" 2>/dev/null || true' EXIT
git -C "$ROOT" worktree add --detach "$WT" "$BASE" >/dev/null
(cd "$WT" && ./mvnw -B -ntp -q ${MVN_FLAGS:-} -DskipTests package -pl jmh -am)
cp "$WT/jmh/target/benchmarks.jar" "$OUT/.ab-base.jar"
(cd "$ROOT" && ./mvnw -B -ntp -q ${MVN_FLAGS:-} -DskipTests package -pl jmh -am)
cp "$ROOT/jmh/target/benchmarks.jar" "$OUT/.ab-new.jar"
for rep in $(seq 1 "$REPS"); do
  for v in new base; do
    taskset -c 1 java -jar "$OUT/.ab-$v.jar" 'RequestPathBenchmark.(requestPath|requestPathRoundRobin|baseline)$' \
      -p endpoints=10,1000 -prof gc -rf json -rff "$OUT/ab-$STAMP-$v-run$rep.json" > "$OUT/ab-$STAMP-$v-run$rep.txt" 2>&1
    echo "ab.sh: $v run $rep done (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  done
done
rm -f "$OUT/.ab-base.jar" "$OUT/.ab-new.jar"
python3 "$ROOT/jmh/tools/ab_table.py" "$OUT/ab-$STAMP-base-run*.json" "$OUT/ab-$STAMP-new-run*.json"
