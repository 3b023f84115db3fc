#!/usr/bin/env python3
"""Summarises allocation samples of a JFR recording: by class, and by allocating frame.

Usage: jfr print --json --events jdk.ObjectAllocationSample rec.jfr | python3 jfr_alloc_summary.py [thread-substring]

Only samples from threads whose name contains thread-substring are kept (default: the JMH worker,
"jmh-worker"). Weights are JFR's estimate of the bytes each sample stands for.
"""
import collections
import json
import sys

thread_filter = sys.argv[1] if len(sys.argv) > 1 else "jmh-worker"
events = json.load(sys.stdin)["recording"]["events"]
by_class = collections.Counter()
by_site = collections.Counter()
total = 0
kept = 0
for e in events:
    v = e["values"]
    thread = (v.get("eventThread") or {}).get("javaName") or ""
    if thread_filter not in thread:
        continue
    kept += 1
    w = v.get("weight", 0)
    total += w
    cls = v["objectClass"]["name"]
    by_class[cls] += w
    frames = (v.get("stackTrace") or {}).get("frames") or []
    site = []
    for f in frames[:6]:
        m = f["method"]
        site.append("%s.%s:%s" % (m["type"]["name"].split(".")[-1], m["name"], f.get("lineNumber")))
    by_site[(cls, " <- ".join(site))] += w

print("samples kept: %d, estimated bytes: %d" % (kept, total))
print("\nby class:")
for cls, w in by_class.most_common(15):
    print("  %5.1f%%  %s" % (100.0 * w / max(total, 1), cls))
print("\nby allocation site (top 6 frames):")
for (cls, site), w in by_site.most_common(12):
    print("  %5.1f%%  %s\n          %s" % (100.0 * w / max(total, 1), cls, site))
