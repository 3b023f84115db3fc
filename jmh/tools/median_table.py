#!/usr/bin/env python3
"""Medians over several JMH JSON result files (same benchmarks, -prof gc), as a Markdown table.

Usage: python3 median_table.py jmh/results/request-path-run*.json

For every benchmark and parameter: the median of the runs' scores (ns/op) and of their
gc.alloc.rate.norm (B/op), and the median of the per-run ratio to the 'baseline' benchmark with the
same parameters in the same run, plus the per-run scores so the spread is visible.
"""
import json
import statistics
import sys

runs = []
for path in sys.argv[1:]:
    with open(path) as f:
        runs.append(json.load(f))


def key(r):
    name = r["benchmark"].rsplit(".", 1)[1]
    params = ",".join("%s=%s" % kv for kv in sorted((r.get("params") or {}).items()))
    return name, params


rows = {}
order = []
baseline = []  # per run: params -> score
for run in runs:
    base = {}
    for r in run:
        name, params = key(r)
        if name == "baseline":
            base[params] = r["primaryMetric"]["score"]
    baseline.append(base)
for i, run in enumerate(runs):
    for r in run:
        k = key(r)
        if k not in rows:
            rows[k] = {"ns": [], "bytes": [], "ratio": []}
            order.append(k)
        ns = r["primaryMetric"]["score"]
        rows[k]["ns"].append(ns)
        norm = (r.get("secondaryMetrics") or {}).get("gc.alloc.rate.norm")
        if norm is not None:
            rows[k]["bytes"].append(norm["score"])
        b = baseline[i].get(k[1])
        if b:
            rows[k]["ratio"].append(ns / b)


def med(xs, fmt):
    return fmt % statistics.median(xs) if xs else "n/a"


print("| benchmark | endpoints | ns/op (median) | B/op (median) | x baseline (median) | ns/op per run |")
print("|---|---:|---:|---:|---:|---|")
for k in sorted(order, key=lambda k: (order.index((k[0], order[0][1])) if (k[0], order[0][1]) in order else 0, k[0], int(k[1].split("=")[1]) if "=" in k[1] else 0)):
    v = rows[k]
    endpoints = k[1].split("=")[1] if "=" in k[1] else ""
    bytes_ = med(v["bytes"], "%.0f") if v["bytes"] and statistics.median(v["bytes"]) >= 0.5 else ("0" if v["bytes"] else "n/a")
    print("| %s | %s | %s | %s | %s | %s |" % (k[0], endpoints, med(v["ns"], "%.1f"), bytes_,
          med(v["ratio"], "%.1f"), " / ".join("%.1f" % x for x in v["ns"])))
