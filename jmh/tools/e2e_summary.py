#!/usr/bin/env python3
"""The results table of jmh/bench.sh, in Markdown, from the raw files of one bench.sh invocation.

Usage: python3 e2e_summary.py RUN.json [RUN.json ...] [--jmh JMH.json]

RUN.json are the load driver's files (one per repetition, e2e-<stamp>-runK.json); JMH.json is the
JMH result file of the same invocation (request path, registry update, TLS handshake), optional.

Every figure is the median over the repetitions. A ratio is the median of the per-repetition
ratios (each repetition against its own baseline), not a ratio of medians. The gRPC configurations
are compared with the best plain grpc-java configuration of each repetition (the highest closed-loop
throughput of grpc-plain, grpc-plain-direct and grpc-per-endpoint), the HTTP one with http-plain (a
plain JDK HttpClient). "added p99" is p99 minus the baseline's p99, per repetition, then the median.
The noise floor is grpc-plain run a second time in the same repetition (grpc-plain-again): what a
configuration differs from itself by; a difference smaller than it is not a result.
"""
import json
import statistics
import sys

PLAIN = ["grpc-plain", "grpc-plain-direct", "grpc-per-endpoint"]
GRPC = ["best-plain"] + PLAIN + ["grpc-plain-again", "grpc-xds", "mesh-plain", "mesh-mtls", "mesh-mtls-jdk",
                                 "sidecar-plain", "sidecar-tls"]
HTTP = ["http-plain", "http-mesh"]
BASE = {c: "best-plain" for c in GRPC}
BASE.update({c: "http-plain" for c in HTTP})
LABEL = {
    "best-plain": "1. best plain grpc-java of the run (baseline)",
    "grpc-plain": "1a. grpc-java, one channel, round robin",
    "grpc-plain-direct": "1b. grpc-java, one channel, round robin, direct executor, retries off",
    "grpc-per-endpoint": "1c. grpc-java, a channel per endpoint picked by the application (80/20)",
    "grpc-plain-again": "1a'. grpc-plain again (noise floor)",
    "grpc-xds": "2x. grpc-java proxyless xDS (java-control-plane: 80/20 clusters, outlier detection)",
    "mesh-plain": "2. MeshUp, plaintext (weighted VS, breaker, outlier detection)",
    "mesh-mtls": "3. MeshUp, mTLS (BoringSSL via netty-tcnative)",
    "mesh-mtls-jdk": "3'. MeshUp, mTLS (the JDK's TLS)",
    "sidecar-plain": "4a. sidecar pair (HAProxy), plaintext between proxies",
    "sidecar-tls": "4b. sidecar pair (HAProxy), mTLS between proxies",
    "http-plain": "5a. JDK HttpClient (HTTP baseline)",
    "http-mesh": "5b. MeshUp HTTP client",
}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=0):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def main(argv):
    runs_paths, jmh_path = [], None
    i = 0
    while i < len(argv):
        if argv[i] == "--jmh":
            jmh_path = argv[i + 1]
            i += 2
        else:
            runs_paths.append(argv[i])
            i += 1
    runs = []
    for p in runs_paths:
        with open(p) as f:
            runs.append(json.load(f))
    out = []
    w = out.append

    # per run: config -> result
    def ok(r):
        return r is not None and "skipped" not in r and "failed" not in r

    per_run = []
    for run in runs:
        m = {}
        for r in run["results"]:
            m[r["config"]] = r
        plain = [m[c] for c in PLAIN if ok(m.get(c))]
        if plain:
            best = max(plain, key=lambda r: r["throughput_rps"])
            m["best-plain"] = dict(best, config="best-plain", picked=best["config"])
        per_run.append(m)

    def values(config, field):
        return [m[config][field] if ok(m.get(config)) else None for m in per_run]

    def ratios(config, field, base=None):
        base = base or BASE[config]
        out_ = []
        for m in per_run:
            a, b = m.get(config), m.get(base)
            if ok(a) and ok(b) and b[field]:
                out_.append(a[field] / b[field])
            else:
                out_.append(None)
        return out_

    def diffs(config, field, base=None):
        base = base or BASE[config]
        out_ = []
        for m in per_run:
            a, b = m.get(config), m.get(base)
            out_.append(a[field] - b[field] if ok(a) and ok(b) else None)
        return out_

    first = runs[0]
    mach = first["machine"]
    p = first["params"]
    w(f"Runs: {len(runs)}, {first['started']} to {runs[-1]['finished']} (UTC). "
      f"Machine: {mach['cpus']} CPUs, {mach['cpu']}, {mach['mem_total']}, kernel {mach['kernel']}, {mach['java']}; "
      f"{first.get('haproxy', 'no HAProxy')}.")
    w("")
    w(f"Per configuration and run: {p['warmup_s']} s warm-up, {p['closed_s']} s closed loop at "
      f"{p['concurrency']} requests in flight, {p['open_s']} s open loop at {p['rate_rps']} req/s "
      f"(HTTP: {p.get('http_rate_rps', p['rate_rps'])} req/s); "
      f"{p['payload_bytes']} B request and response; {p['instances']} server instances.")
    w("Load average (1/5/15 min) before/after each run: "
      + "; ".join(f"run {k + 1}: {r['machine']['load_before'].split()[0:3]} / {r['load_after'].split()[0:3]}"
                  for k, r in enumerate(runs)).replace("'", ""))
    w("")
    w("| configuration | throughput req/s | × base | p50 µs | p90 µs | p99 µs | p99.9 µs | added p50 µs | added p99 µs | "
      "added p99.9 µs | CPU s / 1k req (client side) | × base | CPU s / 1k req (all sides) | server CPU s / 1k | "
      "client heap MB | × base | B allocated / req (client JVM) | added B / req | throughput in runs |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in GRPC + HTTP:
        if not any(ok(m.get(c)) for m in per_run):
            reason = next((m[c].get("skipped") or m[c].get("failed") for m in per_run if m.get(c)), "not run")
            w(f"| {LABEL[c]} | {reason} | | | | | | | | | | | | | | | | | |")
            continue
        thr = values(c, "throughput_rps")
        heap = [x / 1048576 if x is not None else None for x in values(c, "heap_client_bytes")]
        sat = any(v for v in values(c, "open_saturated") if v)
        errs = sum(v for v in values(c, "closed_errors") + values(c, "open_errors") if v)
        note = (" (open loop saturated)" if sat else "") + (f" ({errs} errors)" if errs else "")
        base = c == BASE[c]
        if c == "best-plain":
            note += " (" + ", ".join(m["best-plain"]["picked"] for m in per_run if "best-plain" in m) + ")"
        all_sides = [a + b if a is not None and b is not None else None
                     for a, b in zip(values(c, "cpu_per_1k_client_side_s"), values(c, "cpu_per_1k_server_s"))]
        w("| " + " | ".join([
            LABEL[c] + note,
            fmt(med(thr)),
            "1" if base else fmt(med(ratios(c, "throughput_rps")), 2),
            fmt(med(values(c, "p50_us"))),
            fmt(med(values(c, "p90_us"))),
            fmt(med(values(c, "p99_us"))),
            fmt(med(values(c, "p999_us"))),
            "0" if base else fmt(med(diffs(c, "p50_us"))),
            "0" if base else fmt(med(diffs(c, "p99_us"))),
            "0" if base else fmt(med(diffs(c, "p999_us"))),
            fmt(med(values(c, "cpu_per_1k_client_side_s")), 3),
            "1" if base else fmt(med(ratios(c, "cpu_per_1k_client_side_s")), 2),
            fmt(med(all_sides), 3),
            fmt(med(values(c, "cpu_per_1k_server_s")), 3),
            fmt(med(heap), 1),
            "1" if base else fmt(med(ratios(c, "heap_client_bytes")), 2),
            fmt(med(values(c, "alloc_per_request_bytes"))),
            "0" if base else fmt(med(diffs(c, "alloc_per_request_bytes"))),
            " / ".join(fmt(x) for x in thr),
        ]) + " |")
    w("")
    w("CPU (client side) = the client JVM's process CPU time during the closed-loop window; for the sidecar rows "
      "plus both HAProxy processes' utime+stime from /proc. Server CPU = the echo servers' JVM (not in the ratios). "
      "Client heap = heap used after full GCs with the client built and warmed, minus the same JVM's heap after "
      "full GCs before the client was built. B allocated / req = bytes allocated by all the client JVM's threads "
      "during the closed loop / completed calls; added = minus the baseline's, per run.")
    w("")
    served = [f"{c}: {per_run[0][c]['served']}" for c in GRPC + HTTP if ok(per_run[0].get(c)) and "served" in per_run[0][c]]
    if served:
        w("Calls each server instance served, run 1 (instances 0 and 1 are subset v1, 2 is v2; MeshUp splits 80/20 "
          "between the subsets, grpc-java and the proxies round-robin): " + "; ".join(served) + ".")
        w("")

    # ---- targets ----------------------------------------------------------------------------
    rows = []

    def target(name, value, met, detail=""):
        rows.append((name, value, "met" if met else ("**NOT MET**" if met is not None else "n/a"), detail))

    noise_thr = [abs(x - 1) if x is not None else None for x in ratios("grpc-plain-again", "throughput_rps", "grpc-plain")]
    noise_p99 = [abs(x) if x is not None else None for x in diffs("grpc-plain-again", "p99_us", "grpc-plain")]
    nf_thr, nf_p99 = med(noise_thr), med(noise_p99)
    if nf_thr is not None:
        w(f"Noise floor (grpc-plain against itself in the same run): throughput ±{nf_thr * 100:.1f} %, "
          f"p99 ±{fmt(nf_p99)} µs (runs: " + " / ".join(fmt(x * 100, 1) + " %" for x in noise_thr if x is not None) + ").")
        w("")
    r = med(ratios("mesh-plain", "throughput_rps"))
    target("MeshUp plaintext throughput ≥ 0.95 × the best plain grpc-java", fmt(r, 2), None if r is None else r >= 0.95,
           f"noise floor ±{nf_thr * 100:.1f} %" if nf_thr is not None else "")
    d = med(diffs("mesh-plain", "p99_us"))
    bound = max(50, nf_p99 or 0)
    target("MeshUp plaintext added p99 below the noise floor or 50 µs, whichever is larger", f"{fmt(d)} µs (bound {fmt(bound)} µs)",
           None if d is None else d < bound)
    cm, cx = med(values("mesh-plain", "cpu_per_1k_client_side_s")), med(values("grpc-xds", "cpu_per_1k_client_side_s"))
    am, ax = med(diffs("mesh-plain", "p99_us")), med(diffs("grpc-xds", "p99_us"))
    if cm is not None and cx is not None:
        target("MeshUp per-call CPU and added p99 below grpc-xds's for the same policy",
               f"CPU {fmt(cm, 3)} vs {fmt(cx, 3)} s/1k; added p99 {fmt(am)} vs {fmt(ax)} µs",
               cm < cx and (am is None or ax is None or am < ax))
    else:
        target("MeshUp per-call CPU and added p99 below grpc-xds's for the same policy", "not run", None)
    mt = [a / b if a and b else None for a, b in zip(values("mesh-mtls", "throughput_rps"), values("mesh-mtls", "cpu_per_1k_client_side_s"))]
    st = [a / b if a and b else None for a, b in zip(values("sidecar-tls", "throughput_rps"), values("sidecar-tls", "cpu_per_1k_client_side_s"))]
    per_cpu = med([a / b if a and b else None for a, b in zip(mt, st)])
    target("MeshUp mTLS throughput per client-side CPU second ≥ 2 × the sidecar pair's (TLS)", fmt(per_cpu, 2),
           None if per_cpu is None else per_cpu >= 2)
    r = med(ratios("mesh-mtls", "throughput_rps", "sidecar-tls"))
    target("MeshUp mTLS throughput ≥ 2 × sidecar pair (TLS)", fmt(r, 2), None if r is None else r >= 2,
           f"vs plaintext pair: {fmt(med(ratios('mesh-mtls', 'throughput_rps', 'sidecar-plain')), 2)}")
    dm = med(diffs("mesh-mtls", "p99_us"))
    ds = med(diffs("sidecar-tls", "p99_us"))
    if dm is None or ds is None:
        target("MeshUp mTLS added p99 < 1/5 of the sidecar pair's (TLS)", "n/a", None)
    elif ds <= 0:
        target("MeshUp mTLS added p99 < 1/5 of the sidecar pair's (TLS)", f"{fmt(dm)} µs vs {fmt(ds)} µs", None,
               "the sidecar pair added no p99 in this run: noise, not a result")
    else:
        target("MeshUp mTLS added p99 < 1/5 of the sidecar pair's (TLS)",
               f"{fmt(dm)} µs vs {fmt(ds)} µs (ratio {dm / ds:.2f})", dm < ds / 5)

    jmh = []
    if jmh_path:
        with open(jmh_path) as fjson:
            jmh = json.load(fjson)

    def jmh_rows(name):
        return [x for x in jmh if x["benchmark"].endswith("." + name)]

    rp = {x["params"]["endpoints"]: x for x in jmh_rows("RequestPathBenchmark.requestPath")}
    if "10" in rp and "10000" in rp:
        a, b = rp["10"]["primaryMetric"]["score"], rp["10000"]["primaryMetric"]["score"]
        target("Request path flat (within 20 %) from 10 to 10,000 endpoints",
               f"{a:.1f} → {rp.get('1000', rp['10'])['primaryMetric']['score']:.1f} → {b:.1f} ns/op "
               f"({(b / a - 1) * 100:+.0f} %)", b / a <= 1.2)
        allocs = [x["secondaryMetrics"].get("gc.alloc.rate.norm", {}).get("score") for x in rp.values()]
        if all(v is not None for v in allocs):
            target("Zero bytes allocated per call by MeshUp's request path (JMH)",
                   " / ".join(f"{v:.3f}" for v in allocs) + " B/op (N = 10 / 1000 / 10000)", max(allocs) < 1)
    else:
        target("Request path flat (within 20 %) from 10 to 10,000 endpoints", "not run", None)
    for c in ["mesh-plain", "http-mesh"]:
        a = med(diffs(c, "alloc_per_request_bytes"))
        if a is not None:
            target(f"Zero bytes per call added by MeshUp's client, end to end ({c} minus its baseline)",
                   f"{fmt(a)} B/call", a < 16,
                   "whole transport wrapper included; within ±16 B counts as zero (measurement noise)")
    w("| target | measured | result | |")
    w("|---|---|---|---|")
    for row in rows:
        w("| " + " | ".join(row) + " |")
    w("")

    # ---- in-process figures -----------------------------------------------------------------
    fps = [run.get("footprint") for run in runs if isinstance(run.get("footprint"), dict)
           and "heap_bytes" in run.get("footprint")]
    if fps:
        hb = med([x["heap_bytes"] for x in fps])
        runs_mb = " / ".join("%.1f" % (x["heap_bytes"] / 1048576) for x in fps)
        w(f"Heap for {fps[0]['services']:,} services × {fps[0]['endpoints_per_service']} endpoints (static registry, "
          f"every router built and used once): **{hb / 1048576:.1f} MB** ({hb / fps[0]['services'] / 1024:.1f} KB "
          f"per service, {hb / (fps[0]['services'] * fps[0]['endpoints_per_service']):,.0f} B per endpoint; "
          f"median of {len(fps)}; runs: {runs_mb} MB).")
        w("")
    ru = jmh_rows("RegistryUpdateBenchmark.pushAndPick")
    if ru:
        w("Registry change to routing table (push of a complete new list → first pick of a new endpoint), "
          "JMH average: " + ", ".join(
              f"N = {x['params']['endpoints']}: {x['primaryMetric']['score']:,.1f} {x['primaryMetric']['scoreUnit']}"
              f" ({x['secondaryMetrics'].get('gc.alloc.rate.norm', {}).get('score', 0) / 1024:,.0f} KB allocated)"
              for x in ru) + ".")
        w("")
    hs = {x["benchmark"].rsplit(".", 1)[1]: x for x in jmh if "TlsHandshakeBenchmark" in x["benchmark"]}
    if hs:
        w("| TLS 1.3 mutual handshake, client + server on one thread | µs/op | KB allocated |")
        w("|---|---:|---:|")
        for k, label in [("meshFull", "MeshUp managers (dev CA, EC P-256), full"),
                         ("meshResumed", "MeshUp managers, resumed"),
                         ("jdkFull", "JDK KeyManagerFactory/TrustManagerFactory, full"),
                         ("jdkResumed", "JDK factories, resumed")]:
            if k in hs:
                x = hs[k]
                alloc = x["secondaryMetrics"].get("gc.alloc.rate.norm", {}).get("score")
                err = x["primaryMetric"]["scoreError"]
                err = f" ± {err:,.0f}" if isinstance(err, (int, float)) and err == err else ""
                w(f"| {label} | {x['primaryMetric']['score']:,.0f}{err} | "
                  f"{fmt(alloc / 1024 if alloc is not None else None)} |")
        w("")
    rpb = {x["params"]["endpoints"]: x for x in jmh_rows("RequestPathBenchmark.baseline")}
    if rp:
        w("| request path (JMH) | N = 10 | N = 1,000 | N = 10,000 |")
        w("|---|---:|---:|---:|")
        for name, d_ in [("requestPath ns/op", rp), ("baseline ns/op", rpb)]:
            w(f"| {name} | " + " | ".join(fmt(d_[n]["primaryMetric"]["score"], 1) if n in d_ else "n/a"
                                         for n in ["10", "1000", "10000"]) + " |")
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
