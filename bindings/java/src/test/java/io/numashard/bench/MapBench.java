package io.numashard.bench;

import io.numashard.Batch;
import io.numashard.Config;
import io.numashard.NumaShardMap;
import java.util.concurrent.ConcurrentHashMap;
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
 * numashard vs ConcurrentHashMap&lt;String, byte[]&gt;: 16-byte keys, 32-byte values, every key
 * present (all-hit gets), SMALL = 100k and LARGE = 10M entries, single calls and batches of 64.
 * Threads come from the command line (-t 1, -t 2). Throughput is reported per key.
 *
 * <p>Each side gets its natural, prebuilt key: CHM a String from the array it was filled from
 * (hash cached, equals by identity — CHM's best case), numashard a byte[] from a byte[][] array.
 * numashard's get returns a fresh byte[] copy of the value (it is off-heap); CHM returns the
 * stored reference.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms6g", "-Xmx6g", "-XX:+UseG1GC"})
public class MapBench {
    static final int BATCH = 64;

    @Param({"SMALL", "LARGE"})
    public String size;

    @Param({"chm", "numashard"})
    public String impl;

    int n;
    ConcurrentHashMap<String, byte[]> chm;
    String[] chmKeys;
    NumaShardMap ns;
    byte[][] nsKeys;
    byte[] value;

    @Setup(Level.Trial)
    public void setup() {
        n = Keys.count(size);
        value = Keys.value(1);
        if (impl.equals("chm")) {
            chm = new ConcurrentHashMap<>(n * 2);
            chmKeys = new String[n];
            for (int i = 0; i < n; i++) {
                chmKeys[i] = Keys.keyString(i);
                chm.put(chmKeys[i], Keys.value(i));
            }
        } else {
            ns = NumaShardMap.open(Config.defaults());
            nsKeys = new byte[n][];
            Batch b = new Batch(1024, 0);
            for (int i = 0; i < n; i++) {
                nsKeys[i] = Keys.key(i);
                b.put(nsKeys[i], Keys.value(i));
                if (b.size() == 1024 || i == n - 1) {
                    ns.execute(b);
                    b.clear();
                }
            }
            if (ns.size() != n) {
                throw new IllegalStateException("populated " + ns.size() + " of " + n);
            }
        }
        System.gc();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (ns != null) {
            ns.close();
        }
    }

    /** Per-thread random stream and reusable batch. */
    @State(Scope.Thread)
    public static class ThreadState {
        long x = System.nanoTime() | 1;
        Batch batch = new Batch(BATCH, Keys.VALUE_LEN);
        boolean[] isGet = new boolean[BATCH];

        int nextIndex(int n) {
            x = Keys.next(x);
            return Keys.index(x, n);
        }
    }

    @Benchmark
    public void get(ThreadState t, Blackhole bh) {
        int i = t.nextIndex(n);
        if (chm != null) {
            bh.consume(chm.get(chmKeys[i]));
        } else {
            bh.consume(ns.get(nsKeys[i]));
        }
    }

    /** 50% get, 50% put (overwrite of an existing key). */
    @Benchmark
    public void mix(ThreadState t, Blackhole bh) {
        int i = t.nextIndex(n);
        boolean put = (t.x & 0x100) != 0;
        if (chm != null) {
            if (put) {
                bh.consume(chm.put(chmKeys[i], value));
            } else {
                bh.consume(chm.get(chmKeys[i]));
            }
        } else {
            if (put) {
                ns.put(nsKeys[i], value);
            } else {
                bh.consume(ns.get(nsKeys[i]));
            }
        }
    }

    /** 64 random all-hit gets in one batch (for CHM: 64 gets in a loop); each value as a byte[]. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void batchGet(ThreadState t, Blackhole bh) {
        if (chm != null) {
            for (int j = 0; j < BATCH; j++) {
                bh.consume(chm.get(chmKeys[t.nextIndex(n)]));
            }
            return;
        }
        Batch b = t.batch;
        b.clear();
        for (int j = 0; j < BATCH; j++) {
            b.get(nsKeys[t.nextIndex(n)]);
        }
        ns.execute(b);
        for (int j = 0; j < BATCH; j++) {
            bh.consume(b.value(j));
        }
    }

    /** A batch of 64: 50% gets, 50% puts (for CHM: the same 64 calls in a loop). */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void batchMix(ThreadState t, Blackhole bh) {
        if (chm != null) {
            for (int j = 0; j < BATCH; j++) {
                int i = t.nextIndex(n);
                if ((t.x & 0x100) != 0) {
                    bh.consume(chm.put(chmKeys[i], value));
                } else {
                    bh.consume(chm.get(chmKeys[i]));
                }
            }
            return;
        }
        Batch b = t.batch;
        b.clear();
        for (int j = 0; j < BATCH; j++) {
            int i = t.nextIndex(n);
            t.isGet[j] = (t.x & 0x100) == 0;
            if (t.isGet[j]) {
                b.get(nsKeys[i]);
            } else {
                b.put(nsKeys[i], value);
            }
        }
        ns.execute(b);
        for (int j = 0; j < BATCH; j++) {
            bh.consume(t.isGet[j] ? b.value(j) : null);
        }
    }
}
