#!/usr/bin/env python3
"""The table of jmh/consul-scale.sh: medians per destination count over the runs given."""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)
for path in sys.argv[1:]:
    with open(path) as f:
        r = json.loads(f.read().strip().splitlines()[-1])
    runs[r["destinations"]].append(r)

def med(rs, key):
    return statistics.median(r.get(key, float("nan")) for r in rs)

def spread(rs, key, fmt):
    vals = sorted(r.get(key, float("nan")) for r in rs)
    return " / ".join(fmt.format(v) for v in vals)

rows = [
    ("destinations with all endpoints", "destinationsWithAllEndpoints", "{:.0f}"),
    ("destinations never served", "destinationsNeverServed", "{:.0f}"),
    ("failed calls at steady load (of calls)", None, None),
    ("first call to first success p50 ms", "firstSuccessP50", "{:.0f}"),
    ("first call to first success p99 ms", "firstSuccessP99", "{:.0f}"),
    ("failed first attempts", "failedFirstCalls", "{:.0f}"),
    ("health change to routing table p50 ms", "propagationP50", "{:.1f}"),
    ("health change to routing table p99 ms", "propagationP99", "{:.1f}"),
    ("the same change, Consul's own blocking query (at a server) p50 ms", "consulPropagationP50", "{:.1f}"),
    ("the same change, Consul's own blocking query p99 ms", "consulPropagationP99", "{:.1f}"),
    ("registry threads (meshup-consul-*)", "registryThreads", "{:.0f}"),
    ("sockets to the agent", "agentSockets", "{:.0f}"),
    ("JVM threads (whole process)", "jvmThreads", "{:.0f}"),
    ("heap MB (mesh + channels, after GC)", "heapMb", "{:.1f}"),
    ("agent CPU s, start", "agentCpuStartup", "{:.2f}"),
    ("leader CPU s, start", "leaderCpuStartup", "{:.2f}"),
    ("agent CPU s, steady window", "agentCpuSteady", "{:.2f}"),
    ("leader CPU s, steady window", "leaderCpuSteady", "{:.2f}"),
    ("all 3 servers CPU s, start", "serversCpuStartup", "{:.2f}"),
    ("all 3 servers CPU s, steady window", "serversCpuSteady", "{:.2f}"),
    ("watch errors (counted)", "watchErrors", "{:.0f}"),
    ("WARN lines", "warnLines", "{:.0f}"),
]
sizes = sorted(runs)
n = {s: len(runs[s]) for s in sizes}
print("| figure (median of runs; runs in brackets) | " + " | ".join(f"{s} destinations ({n[s]} runs)" for s in sizes) + " |")
print("|---|" + "---:|" * len(sizes))
for label, key, fmt in rows:
    cells = []
    for s in sizes:
        rs = runs[s]
        if key is None:
            cells.append("{:.0f} of {:.0f}".format(med(rs, "steadyFailed"), med(rs, "steadyCalls")))
        elif len(rs) > 1:
            cells.append(fmt.format(med(rs, key)) + " (" + spread(rs, key, fmt) + ")")
        else:
            cells.append(fmt.format(med(rs, key)))
    print(f"| {label} | " + " | ".join(cells) + " |")
steady = {s: med(runs[s], "steadySeconds") for s in sizes}
print()
print("Steady window: " + ", ".join(f"{s}: {steady[s]:.0f} s" for s in sizes) + "; Consul " + runs[sizes[0]][0]["consulVersion"] + ".")
