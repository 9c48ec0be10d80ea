package io.numashard.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * numashard against the maps a JVM developer compares it with ({@link Peers}: ConcurrentHashMap,
 * Caffeine, OHC, Chronicle Map), 16-byte keys, 32-byte values, every key present (all-hit
 * gets), SMALL = 100k and LARGE = 10M entries, single calls and batches of 64. Threads come from
 * the command line (-t 1, -t 2). Throughput is reported per key.
 *
 * <p>"batch" is one numashard {@code Batch} of 64 operations (one JNI call); the other maps have
 * no batch call, so for them it is the same 64 calls in a loop. Every value read is
 * materialised as a {@code byte[]}.
 *
 * <p>Chronicle Map needs the JDK's internals opened on 17+ and its usage analytics disabled:
 * the flags below are passed to every fork (harmless for the others).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms6g", "-Xmx6g", "-XX:+UseG1GC", "-Dchronicle.analytics.disable=true",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED"})
public class MapBench {
    static final int BATCH = 64;

    @Param({"SMALL", "LARGE"})
    public String size;

    /** {@code numashard}/{@code ns-typed}: the default backend (FFM on JDK 22+ from the jar); {@code -jni}: forced JNI. */
    @Param({"chm", "caffeine", "ohc", "ohc-str", "chronicle", "numashard", "ns-typed", "ns-jni", "ns-typed-jni"})
    public String impl;

    int n;
    Peers map;
    byte[] value;

    @Setup(Level.Trial)
    public void setup() {
        n = Keys.count(size);
        value = Keys.value(1);
        map = Peers.open(impl, n);
        if (impl.startsWith("n")) {
            System.out.println("numashard backend: " + io.numashard.NumaShardMap.nativeBackend() + " on JDK "
                    + Runtime.version());
        }
        System.gc();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        map.close();
    }

    /** Per-thread random stream and index buffer. */
    @State(Scope.Thread)
    public static class ThreadState {
        long x = System.nanoTime() | 1;
        final int[] idx = new int[BATCH];

        int nextIndex(int n) {
            x = Keys.next(x);
            return Keys.index(x, n);
        }
    }

    @Benchmark
    public byte[] get(ThreadState t) {
        return map.get(t.nextIndex(n));
    }

    /** 50% get, 50% put (overwrite of an existing key). */
    @Benchmark
    public byte[] mix(ThreadState t) {
        int i = t.nextIndex(n);
        if ((t.x & 0x100) != 0) {
            map.put(i, value);
            return null;
        }
        return map.get(i);
    }

    /** 64 random all-hit gets: one numashard batch, a loop of 64 gets for the others. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void batchGet(ThreadState t, Blackhole bh) {
        for (int j = 0; j < BATCH; j++) {
            t.idx[j] = t.nextIndex(n);
        }
        map.getAll(t.idx, BATCH, bh::consume);
    }
}
