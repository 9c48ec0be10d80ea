#!/usr/bin/env python3
"""Prints issue 18's goal ratios from MapBench JSON results (same JVM build, same machine, same
run): bindings/java/jmh-goals.py target/bench/jmh-t1.json [jmh-t2.json ...]. Files with the same
thread count are merged (e.g. a run of the byte[] maps and one of the typed maps). On a JDK >= 22
"numashard"/"ns-typed" are the FFM backend and "ns-jni"/"ns-typed-jni" the forced JNI one: the
goals are printed for each backend present, with FFM's speed-up over JNI."""
import json
import sys

# (label, numerator (bench, impl), denominator (bench, impl), goal); impl "NS" / "TYPED" = each backend
GOALS = [
    ("single get vs OHC", ("get", "NS"), ("get", "ohc"), 1.5),
    ("single get vs Chronicle Map", ("get", "NS"), ("get", "chronicle"), 1.0),
    ("batch of 64 vs OHC (per key)", ("batchGet", "NS"), ("batchGet", "ohc"), 4.0),
    ("batch of 64 vs CHM single gets", ("batchGet", "NS"), ("get", "chm"), 1.0),
    ("typed String get vs OHC String", ("get", "TYPED"), ("get", "ohc-str"), 1.0),
]
BACKENDS = {"NS": {"numashard": "default", "ns-jni": "jni"}, "TYPED": {"ns-typed": "default", "ns-typed-jni": "jni"}}
IMPLS = ("chm", "caffeine", "ohc", "ohc-str", "chronicle", "numashard", "ns-jni", "ns-typed", "ns-typed-jni")

by_threads = {}
for path in sys.argv[1:]:
    for r in json.load(open(path)):
        bench = r["benchmark"].rsplit(".", 1)[1]
        p = r["params"]
        by_threads.setdefault(r["threads"], {})[(bench, p["impl"], p["size"])] = r["primaryMetric"]["score"]

for threads, score in sorted(by_threads.items()):
    for size in sorted({k[2] for k in score}):
        print(f"{size}, {threads} thread(s)")
        for bench in ("get", "batchGet"):
            row = [f"{impl} {score[(bench, impl, size)]:.3f}" for impl in IMPLS if (bench, impl, size) in score]
            if row:
                print(f"  {bench:8s} Mops/s: " + ", ".join(row))
        for bench in ("get", "batchGet"):
            for ffm, jni in (("numashard", "ns-jni"), ("ns-typed", "ns-typed-jni")):
                a, b = score.get((bench, ffm, size)), score.get((bench, jni, size))
                if a and b:
                    print(f"  {bench} {ffm} default backend / forced JNI: {a / b:5.2f}x")
        for label, num, den, goal in GOALS:
            b = score.get((den[0], den[1], size))
            for impl, backend in BACKENDS[num[1]].items():
                a = score.get((num[0], impl, size))
                if a and b:
                    ratio = a / b
                    print(f"  {label:32s} [{backend:7s}] {ratio:5.2f}x  (goal >= {goal}x: "
                          f"{'met' if ratio >= goal else 'NOT met'})")
