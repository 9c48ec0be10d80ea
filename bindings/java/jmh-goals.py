#!/usr/bin/env python3
"""Prints issue 18's goal ratios from MapBench JSON results of one run (same JVM build, same
machine, same minutes): bindings/java/jmh-goals.py target/bench/jmh-t1.json [jmh-t2.json ...]"""
import json
import sys

GOALS = [  # (label, numerator (bench, impl), denominator (bench, impl), goal)
    ("single get vs OHC", ("get", "numashard"), ("get", "ohc"), 1.5),
    ("single get vs Chronicle Map", ("get", "numashard"), ("get", "chronicle"), 1.0),
    ("batch of 64 vs OHC (per key)", ("batchGet", "numashard"), ("batchGet", "ohc"), 4.0),
    ("batch of 64 vs CHM single gets", ("batchGet", "numashard"), ("get", "chm"), 1.0),
    ("typed String get vs OHC String", ("get", "ns-typed"), ("get", "ohc-str"), 1.0),
]

for path in sys.argv[1:]:
    runs = json.load(open(path))
    score = {}
    for r in runs:
        bench = r["benchmark"].rsplit(".", 1)[1]
        p = r["params"]
        score[(bench, p["impl"], p["size"])] = (r["primaryMetric"]["score"], r["threads"],
                                                r["primaryMetric"]["rawData"][0])
    sizes = sorted({k[2] for k in score})
    for size in sizes:
        threads = next(v[1] for k, v in score.items() if k[2] == size)
        print(f"{path}: {size}, {threads} thread(s)")
        for bench in ("get", "batchGet"):
            row = [f"{impl} {score[(bench, impl, size)][0]:.3f}" for impl in
                   ("chm", "caffeine", "ohc", "ohc-str", "chronicle", "numashard", "ns-typed")
                   if (bench, impl, size) in score]
            print(f"  {bench:8s} Mops/s: " + ", ".join(row))
        for label, num, den, goal in GOALS:
            a, b = score.get((num[0], num[1], size)), score.get((den[0], den[1], size))
            if a and b:
                ratio = a[0] / b[0]
                print(f"  {label:32s} {ratio:5.2f}x  (goal >= {goal}x: {'met' if ratio >= goal else 'NOT met'})")
