#!/usr/bin/env bash
# Tests the Java binding (bindings/java): builds the engine's static library (cargo) and the JNI
# glue (make, called by Maven), then runs the JUnit 5 suite twice in one `mvn test`: normally,
# and again with -Xcheck:jni (the second surefire execution). Fails on a test failure or on any
# JNI warning the checked run printed. If another JDK (>= 21) is installed, the suite also runs
# on it (NUMASHARD_JAVA_EXTRA_JDK=/path/to/jdk to choose, =none to skip).
# Installs a JDK 17 and Maven with apt when missing. Maven downloads its own dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! command -v javac >/dev/null || ! command -v mvn >/dev/null; then
  echo "test-java: installing openjdk-17-jdk-headless and maven"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
fi
missing=()
for p in libhwloc-dev gcc make; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  echo "test-java: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ -z "${JAVA_HOME:-}" ]; then
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
  export JAVA_HOME
fi

echo "test-java: cargo build --release -p numashard-ffi"
cargo build --release --quiet -p numashard-ffi

cd bindings/java
rm -rf target/surefire-reports target/surefire-reports-checkjni
# Maven 3.8 prints ANSI resets even in batch mode, and its own Guava trips JDK 24+'s
# sun.misc.Unsafe warnings: strip both (pipefail keeps mvn's exit status).
mvn() {
  command mvn -B "$@" 2>&1 | sed -u -e 's/\x1b\[[0-9;]*m//g' -e '/^WARNING: .*sun\.misc\.Unsafe/d' \
    -e '/^WARNING: Please consider reporting this to the maintainers of class com\.google/d'
}

check_jni_output() {
  # Surefire stores what the JVM wrote to the native stdout (where -Xcheck:jni reports) in .dumpstream files.
  local hits
  hits="$(cat target/surefire-reports-checkjni/*.dumpstream 2>/dev/null \
          | grep -E "WARNING in native method|FATAL ERROR in native method" || true)"
  if [ -n "$hits" ]; then
    echo "test-java: -Xcheck:jni reported problems:"
    cat target/surefire-reports-checkjni/*.dumpstream
    exit 1
  fi
}

summary() {
  local dir=$1
  cat "$dir"/*.txt | awk '/Tests run:/ {gsub(",",""); r+=$3; f+=$5; e+=$7; s+=$9} END {printf "%d tests, %d failures, %d errors, %d skipped\n", r, f, e, s}'
}

echo "test-java: mvn test on $("$JAVA_HOME/bin/java" -version 2>&1 | head -1) (plain + -Xcheck:jni)"
mvn -q test
check_jni_output
echo "test-java: plain run:          $(summary target/surefire-reports)"
echo "test-java: -Xcheck:jni run:    $(summary target/surefire-reports-checkjni), no JNI warnings"

# The publishable artifacts: the jar, its sources and its javadoc (the javadoc plugin fails on any
# doclint error or warning), and a module name in the manifest.
mvn -q package -DskipTests -Dnative.skip=true
jar="$(ls target/numashard-*.jar | grep -v -e '-sources.jar$' -e '-javadoc.jar$' | head -1)"
for extra_jar in sources javadoc; do
  [ -s "${jar%.jar}-$extra_jar.jar" ] || { echo "test-java: no ${jar%.jar}-$extra_jar.jar"; exit 1; }
done
"$JAVA_HOME/bin/jar" --describe-module --file "$jar" | grep -q "^io.numashard@.* automatic" \
  || { echo "test-java: $jar has no Automatic-Module-Name io.numashard"; exit 1; }
"$JAVA_HOME/bin/jar" tf "${jar%.jar}-javadoc.jar" | grep -q "io/numashard/NumaShardTypedMap.html" \
  || { echo "test-java: the javadoc jar lacks NumaShardTypedMap"; exit 1; }
echo "test-java: jar, sources and javadoc jars built (javadoc: no doclint errors or warnings), Automatic-Module-Name set"
# The packaged jar alone: the glue is extracted from /native/<platform>/ inside it.
"$JAVA_HOME/bin/java" -cp "$jar" smoke/JarSmoke.java
# A wrong explicit path must fail with a clear message, not fall back silently.
if err="$("$JAVA_HOME/bin/java" -Dnumashard.jni.path=/nonexistent/libnumashard_jni.so -cp "$jar" smoke/JarSmoke.java 2>&1)"; then
  echo "test-java: expected a load failure with -Dnumashard.jni.path=/nonexistent"; exit 1
fi
echo "$err" | grep -q "numashard: cannot load /nonexistent/libnumashard_jni.so" \
  || { echo "test-java: unclear load error:"; echo "$err"; exit 1; }
# Classes without the packaged library and nothing on java.library.path: one line saying what to do.
bare="$(mktemp -d)"
cp -r target/classes/io "$bare/"
if err="$("$JAVA_HOME/bin/java" -cp "$bare" smoke/JarSmoke.java 2>&1)"; then
  echo "test-java: expected a load failure without the packaged library"; exit 1
fi
rm -rf "$bare"
echo "$err" | grep -q "^Exception in thread \"main\" java.lang.UnsatisfiedLinkError: numashard: cannot load the native library libnumashard_jni.so: no /native/linux-x86_64/libnumashard_jni.so beside these classes .* set -Dnumashard.jni.path=" \
  || { echo "test-java: unclear load error:"; echo "$err"; exit 1; }
# One line of message: everything else printed is a stack frame.
if echo "$err" | grep -v -E '^\s+at |^\s*\.\.\. [0-9]+ more' | grep -q -v "^Exception in thread"; then
  echo "test-java: the load error is more than one line:"; echo "$err"; exit 1
fi
echo "test-java: jar smoke test ok (library extracted from the jar; load failures reported clearly)"

extra="${NUMASHARD_JAVA_EXTRA_JDK:-}"
if [ -z "$extra" ]; then
  for d in /usr/lib/jvm/*; do
    [ -x "$d/bin/javac" ] || continue
    [ "$(readlink -f "$d")" = "$(readlink -f "$JAVA_HOME")" ] && continue
    v="$("$d/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
    if [ "${v%%.*}" -ge 21 ] 2>/dev/null; then extra="$d"; fi
  done
fi
if [ -n "$extra" ] && [ "$extra" != none ]; then
  echo "test-java: mvn test on $("$extra/bin/java" -version 2>&1 | head -1) (plain run, same glue)"
  rm -rf target/surefire-reports
  JAVA_HOME="$extra" mvn -q test -DskipCheckJni=true -Dnative.skip=true
  echo "test-java: $(basename "$extra"):   $(summary target/surefire-reports)"
fi
# Last, so that no test run sees the benchmark classes: the benchmarks (src/bench/java, JMH +
# OHC, Chronicle Map, Caffeine) are not tests, but must keep compiling against the binding.
mvn -q -Pbench test-compile -Dnative.skip=true
echo "test-java: benchmarks compile (mvn -Pbench)"
echo "test-java: ok"
