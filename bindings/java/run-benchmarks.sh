#!/usr/bin/env bash
# Java benchmarks: JMH (numashard vs ConcurrentHashMap, Caffeine, OHC, Chronicle Map; see
# src/bench/java/io/numashard/bench/Peers.java) and the heap / full-GC program for each map.
# Results are summarised by hand in bench/results/java.md. Compiled with mvn -Pbench (the
# peers are not dependencies of the tests).
#
#   bindings/java/run-benchmarks.sh [jmh|gc|goals|c|ffm|hitratio|getprobe|getmany|profile|all] [extra JMH args...]
#
# The JDK is JAVA_HOME's (default: the javac on PATH). On a JDK >= 22 numashard runs on its FFM
# backend; the impls ns-jni and ns-typed-jni force JNI in their JMH forks, so FFM and JNI are
# measured side by side in one run, e.g.
#   JAVA_HOME=/usr/lib/jvm/<jdk 25> IMPLS=chm,ohc,chronicle,numashard,ns-jni ./run-benchmarks.sh jmh
#
# hitratio: cache mode's hit ratio and read-through speed against Caffeine and OHC on the exact
# traces of the Rust table (bench/results/cache.md), written by `numashard-cache traces` into
# target/cache-traces (generated, never committed). getprobe: cache-mode single get vs OHC.
#
# Env: JMH_OPTS (default: -wi 2 -i 3 -f 1 -r 1s -w 1s), SIZES (default SMALL,LARGE),
#      IMPLS (default: all seven), BENCHES (JMH regexp, default MapBench),
#      THREADS (default "1 2"), GC_IMPLS (default "chm caffeine ohc chronicle numashard"),
#      GC_HEAP (default 6g), GOALS_SIZE (default LARGE), GOALS_ROUNDS (default 9), JDK25 (a JDK >= 22 for the FFM comparison),
#      FFM_SIZE (entries for the FFM comparison, default 100000), HIT_TRACES (trace name filter, default all),
#      PROBE_SIZE (getprobe entries, default SMALL), PROBE_ROUNDS (default 9),
#      GETMANY_SIZE (getmany entries, default SMALL), GETMANY_ROUNDS (default 15).
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-all}"; shift || true
export PATH="$HOME/.cargo/bin:$PATH"
if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
  export JAVA_HOME
fi
JAVA="$JAVA_HOME/bin/java"
out=target/bench
mkdir -p "$out"

(cd ../.. && cargo build --release --quiet -p numashard-ffi)
# The packaged jar, not target/classes: with a JDK >= 22 it is the multi-release jar whose
# META-INF/versions/22 holds the FFM backend (a classes directory is never multi-release).
mvn -q -B -Pbench package test-compile dependency:build-classpath -DskipTests -Dmaven.javadoc.skip=true \
  -Dmaven.source.skip=true -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test >/dev/null
JAR="$(ls target/numashard-*.jar | grep -v -e '-sources.jar$' -e '-javadoc.jar$' | head -1)"
CP="target/test-classes:$JAR:$(cat target/cp.txt)"
# Chronicle Map on JDK 17+: open the JDK internals it uses, and no usage analytics (MapBench's
# @Fork passes the same flags to its forks).
CHRONICLE_FLAGS="-Dchronicle.analytics.disable=true --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED
  --add-exports=java.base/sun.nio.ch=ALL-UNNAMED --add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED --add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED"

if [ "$what" = jmh ] || [ "$what" = all ]; then
  for t in ${THREADS:-1 2}; do
    "$JAVA" -cp "$CP" org.openjdk.jmh.Main "${BENCHES:-MapBench}" ${JMH_OPTS:--wi 2 -i 3 -f 1 -r 1s -w 1s} \
      -p size="${SIZES:-SMALL,LARGE}" ${IMPLS:+-p impl="$IMPLS"} -t "$t" -rf json -rff "$out/jmh-t$t.json" "$@" \
      | tee "$out/jmh-t$t.txt"
  done
fi

if [ "$what" = gc ] || [ "$what" = all ]; then
  # The same heap for every map (the on-heap ones need it), Chronicle's flags for all.
  heap="${GC_HEAP:-6g}"
  for impl in ${GC_IMPLS:-chm caffeine ohc chronicle numashard}; do
    "$JAVA" -Xms$heap -Xmx$heap -XX:+UseG1GC $CHRONICLE_FLAGS -Xlog:gc:file="$out/gc-$impl-$heap.log" -cp "$CP" \
      io.numashard.bench.GcPause "$impl" "${GC_SIZE:-LARGE}" | sed "s/^/heap=$heap /" | tee "$out/gc-$impl-$heap.txt"
  done
fi

if [ "$what" = goals ] || [ "$what" = all ]; then
  # The goals' ratios from one process, maps measured in turn (GoalsProbe): a cross-check of the
  # JMH ratios on a noisy machine. Heap for CHM; the off-heap maps take ~3.5 GiB more at LARGE.
  "$JAVA" -Xms4g -Xmx4g -XX:+UseG1GC $CHRONICLE_FLAGS -cp "$CP" io.numashard.bench.GoalsProbe \
    "${GOALS_SIZE:-LARGE}" "${GOALS_ROUNDS:-9}" | tee "$out/goals-${GOALS_SIZE:-LARGE}.txt"
fi

if [ "$what" = hitratio ] || [ "$what" = all ]; then
  (cd ../.. && cargo build --release --quiet -p numashard-bench --bin numashard-cache \
    && target/release/numashard-cache traces target/cache-traces >/dev/null)
  "$JAVA" -Xms1g -Xmx1g -XX:+UseG1GC -cp "$CP" io.numashard.bench.HitRatio ../../target/cache-traces \
    "${HIT_TRACES:-}" | tee "$out/hitratio.txt"
fi

if [ "$what" = getprobe ] || [ "$what" = all ]; then
  "$JAVA" -Xms2g -Xmx2g -XX:+UseG1GC -cp "$CP" io.numashard.bench.HitRatio getprobe \
    "${PROBE_SIZE:-SMALL}" "${PROBE_ROUNDS:-9}" | tee "$out/getprobe-${PROBE_SIZE:-SMALL}.txt"
fi

if [ "$what" = getmany ] || [ "$what" = all ]; then
  # An all-get Batch of 64 through ns_get_many vs the same batch as ns_op records (ns_batch), on
  # the default backend and on JNI, interleaved in one JVM (GetManyProbe).
  "$JAVA" -Xms1g -Xmx1g -XX:+UseG1GC --enable-native-access=ALL-UNNAMED -cp "$CP" io.numashard.bench.GetManyProbe \
    "${GETMANY_SIZE:-SMALL}" "${GETMANY_ROUNDS:-15}" | tee "$out/getmany-${GETMANY_SIZE:-SMALL}.txt"
fi

if [ "$what" = c ] || [ "$what" = all ]; then
  cc -O2 -I../../include cbaseline/c_baseline.c -o target/c_baseline ../../target/release/libnumashard.a \
    -lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
  for n in 100000 10000000; do target/c_baseline "$n" | tee -a "$out/c-baseline.txt"; done
fi

if [ "$what" = profile ]; then
  # Where a get's time goes: perf (software cpu-clock samples: this VM has no hardware counters)
  # on a GetProfile loop, JIT frames named through the JVM's perf map. Not part of "all".
  # PROFILE_IMPL (numashard; ns-jni forces JNI), PROFILE_SIZE (LARGE), PROFILE_MODE (get|batch),
  # PROFILE_SECONDS (25, of which the last 15 are sampled).
  impl="${PROFILE_IMPL:-numashard}"; psize="${PROFILE_SIZE:-LARGE}"; mode="${PROFILE_MODE:-get}"
  secs="${PROFILE_SECONDS:-25}"
  log="$out/profile-$impl-$psize-$mode.txt"
  "$JAVA" -Xms6g -Xmx6g -XX:+UseG1GC --enable-native-access=ALL-UNNAMED -XX:+UnlockDiagnosticVMOptions \
    -XX:+DumpPerfMapAtExit -cp "$CP" io.numashard.bench.GetProfile "$impl" "$psize" "$secs" "$mode" > "$log" &
  jpid=$!
  until grep -q "^filled" "$log" 2>/dev/null; do sleep 1; kill -0 "$jpid" || exit 1; done
  sleep $((secs > 20 ? secs - 15 : 5))
  perf record -q -e cpu-clock -p "$jpid" -o "$out/perf-$impl-$psize-$mode.data" -- sleep 10 2>/dev/null
  wait "$jpid"
  cat "$log"
  perf report -q -i "$out/perf-$impl-$psize-$mode.data" --no-children --sort dso,sym 2>/dev/null \
    | head -40 | tee "$out/perf-$impl-$psize-$mode.txt"
fi

if [ "$what" = ffm ] || [ "$what" = all ]; then
  JDK25="${JDK25:-$(ls -d /usr/lib/jvm/temurin-2[2-9]* /usr/lib/jvm/*-2[2-9]-* 2>/dev/null | head -1 || true)}"
  if [ -n "$JDK25" ] && [ -x "$JDK25/bin/javac" ]; then
    mkdir -p target/ffm-classes
    "$JDK25/bin/javac" -d target/ffm-classes -cp target/classes ffm/FfmVsJni.java
    "$JDK25/bin/java" --enable-native-access=ALL-UNNAMED -Xmx2g -cp "target/ffm-classes:target/classes" \
      FfmVsJni "${FFM_SIZE:-100000}" | tee "$out/ffm-${FFM_SIZE:-100000}.txt"
  else
    echo "ffm: no JDK >= 22 found (set JDK25=...)"
  fi
fi
