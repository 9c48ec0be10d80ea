#!/usr/bin/env bash
# Tests the Java binding (bindings/java): builds the engine's static library (cargo) and the JNI
# glue (make, called by Maven), then runs the JUnit 5 suite twice in one `mvn test` on the
# default JDK (17, the JNI backend): normally, and again with -Xcheck:jni (the second surefire
# execution). Fails on a test failure or on any JNI warning the checked run printed.
# Then, with a JDK >= 22 (the machine image's second JDK, found under /usr/lib/jvm;
# NUMASHARD_JAVA_EXTRA_JDK=/path/to/jdk to choose, =none to skip), builds the published
# multi-release jar (the FFM backend compiled with release 22 into META-INF/versions/22) and runs
# the whole suite against that jar twice: on the FFM backend, and forced to JNI
# (-Dnumashard.backend=jni). Without such a JDK the jar is built by JDK 17, JNI only.
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

echo "test-java: mvn test on $("$JAVA_HOME/bin/java" -version 2>&1 | head -1) (plain + -Xcheck:jni, JNI backend)"
mvn -q test -Dexpect.backend=jni
check_jni_output
echo "test-java: plain run:          $(summary target/surefire-reports)"
echo "test-java: -Xcheck:jni run:    $(summary target/surefire-reports-checkjni), no JNI warnings"

extra="${NUMASHARD_JAVA_EXTRA_JDK:-}"
if [ -z "$extra" ]; then
  for d in /usr/lib/jvm/*; do
    [ -x "$d/bin/javac" ] || continue
    [ "$(readlink -f "$d")" = "$(readlink -f "$JAVA_HOME")" ] && continue
    v="$("$d/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
    if [ "${v%%.*}" -ge 22 ] 2>/dev/null; then extra="$d"; fi
  done
fi
[ "$extra" = none ] && extra=""

# The publishable artifacts: the jar (multi-release with a JDK >= 22), its sources and its javadoc
# (the javadoc plugin fails on any doclint error or warning), and a module name in the manifest.
rm -rf target/failsafe-reports-ffm target/failsafe-reports-jni target/classes/META-INF/versions
if [ -n "$extra" ]; then
  echo "test-java: mvn verify -Pjar-tests on $("$extra/bin/java" -version 2>&1 | head -1): the multi-release jar, its tests on FFM and on forced JNI"
  JAVA_HOME="$extra" mvn -q verify -Pjar-tests -Dnative.skip=true
  echo "test-java: $(basename "$extra"), jar, FFM backend:        $(summary target/failsafe-reports-ffm)"
  echo "test-java: $(basename "$extra"), jar, forced JNI backend: $(summary target/failsafe-reports-jni)"
else
  echo "test-java: no JDK >= 22 found: the jar is JNI-only (built with $("$JAVA_HOME/bin/java" -version 2>&1 | head -1))"
  mvn -q package -DskipTests -Dnative.skip=true
fi
jar="$(ls target/numashard-*.jar | grep -v -e '-sources.jar$' -e '-javadoc.jar$' | head -1)"
if [ -n "$extra" ]; then
  "$JAVA_HOME/bin/jar" tf "$jar" | grep -q "^META-INF/versions/22/io/numashard/FfmBackend.class$" \
    || { echo "test-java: $jar lacks META-INF/versions/22/io/numashard/FfmBackend.class"; exit 1; }
  mf="$(mktemp -d)"
  (cd "$mf" && "$JAVA_HOME/bin/jar" xf "$OLDPWD/$jar" META-INF/MANIFEST.MF)
  grep -q "^Multi-Release: true" "$mf/META-INF/MANIFEST.MF" \
    || { echo "test-java: $jar is not marked Multi-Release"; exit 1; }
  rm -rf "$mf"
  echo "test-java: $jar is a multi-release jar with the FFM backend under META-INF/versions/22"
fi
for extra_jar in sources javadoc; do
  [ -s "${jar%.jar}-$extra_jar.jar" ] || { echo "test-java: no ${jar%.jar}-$extra_jar.jar"; exit 1; }
done
"$JAVA_HOME/bin/jar" --describe-module --file "$jar" | grep -q "^io.numashard@.* automatic" \
  || { echo "test-java: $jar has no Automatic-Module-Name io.numashard"; exit 1; }
"$JAVA_HOME/bin/jar" tf "${jar%.jar}-javadoc.jar" | grep -q "io/numashard/NumaShardTypedMap.html" \
  || { echo "test-java: the javadoc jar lacks NumaShardTypedMap"; exit 1; }
echo "test-java: jar, sources and javadoc jars built (javadoc: no doclint errors or warnings), Automatic-Module-Name set"
# The packaged jar alone: the glue is extracted from /native/<platform>/ inside it.
default_feature="$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
want=jni
[ -n "$extra" ] && [ "${default_feature%%.*}" -ge 22 ] && want=ffm
out="$("$JAVA_HOME/bin/java" -cp "$jar" smoke/JarSmoke.java)"
echo "$out"
echo "$out" | grep -q "backend $want on JDK" \
  || { echo "test-java: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1) did not use $want"; exit 1; }
if [ -n "$extra" ]; then
  out="$("$extra/bin/java" --enable-native-access=ALL-UNNAMED -cp "$jar" smoke/JarSmoke.java)"
  echo "$out"
  echo "$out" | grep -q "backend ffm on JDK" || { echo "test-java: $extra did not pick the FFM backend from the jar"; exit 1; }
fi
# The backend setting: an unknown value, or ffm where FFM is not available, fails in one line.
for bad in "-Dnumashard.backend=bogus:is not one of auto, ffm, jni" \
           "-Dnumashard.backend=ffm:-Dnumashard.backend=ffm, but JDK [0-9]* has no final java.lang.foreign"; do
  if err="$("$JAVA_HOME/bin/java" "${bad%%:*}" -cp "$jar" smoke/JarSmoke.java 2>&1)"; then
    echo "test-java: expected a failure with ${bad%%:*}"; exit 1
  fi
  echo "$err" | grep -q "^Exception in thread \"main\" java.lang.UnsatisfiedLinkError: numashard: .*${bad#*:}" \
    || { echo "test-java: unclear error for ${bad%%:*}:"; echo "$err"; exit 1; }
done
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

# Last, so that no test run sees the benchmark classes: the benchmarks (src/bench/java, JMH +
# OHC, Chronicle Map, Caffeine) are not tests, but must keep compiling against the binding.
mvn -q -Pbench test-compile -Dnative.skip=true
echo "test-java: benchmarks compile (mvn -Pbench)"
echo "test-java: ok"
