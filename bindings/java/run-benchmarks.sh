#!/usr/bin/env bash
# Java benchmarks: JMH (numashard vs ConcurrentHashMap<String, byte[]>) and the heap / full-GC
# program. Results are summarised by hand in bench/results/java.md.
#
#   bindings/java/run-benchmarks.sh [jmh|gc|c|ffm|all] [extra JMH args...]
#
# Env: JMH_OPTS (default: -wi 2 -i 3 -f 1 -r 2s -w 2s), SIZES (default SMALL,LARGE),
#      THREADS (default "1 2"), JDK25 (a JDK >= 22 for the FFM comparison),
#      FFM_SIZE (entries for the FFM comparison, default 100000).
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
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test >/dev/null
CP="target/test-classes:target/classes:$(cat target/cp.txt)"

if [ "$what" = jmh ] || [ "$what" = all ]; then
  for t in ${THREADS:-1 2}; do
    "$JAVA" -cp "$CP" org.openjdk.jmh.Main MapBench ${JMH_OPTS:--wi 2 -i 3 -f 1 -r 2s -w 2s} \
      -p size="${SIZES:-SMALL,LARGE}" -t "$t" -rf json -rff "$out/jmh-t$t.json" "$@" | tee "$out/jmh-t$t.txt"
  done
fi

if [ "$what" = gc ] || [ "$what" = all ]; then
  # Same 6 GiB heap for both, then numashard with the heap it actually needs (512 MiB).
  for run in "chm 6g" "numashard 6g" "numashard 512m"; do
    set -- $run
    "$JAVA" -Xms$2 -Xmx$2 -XX:+UseG1GC -Xlog:gc:file="$out/gc-$1-$2.log" -cp "$CP" \
      io.numashard.bench.GcPause "$1" "${GC_SIZE:-LARGE}" | sed "s/^/heap=$2 /" | tee "$out/gc-$1-$2.txt"
  done
fi

if [ "$what" = c ] || [ "$what" = all ]; then
  cc -O2 -I../../include cbaseline/c_baseline.c -o target/c_baseline ../../target/release/libnumashard.a \
    -lhwloc -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
  for n in 100000 10000000; do target/c_baseline "$n" | tee -a "$out/c-baseline.txt"; done
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
