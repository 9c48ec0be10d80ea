package io.numashard.bench;

import io.numashard.Batch;
import io.numashard.BenchAccess;
import io.numashard.NumaShardMap;
import java.util.Arrays;
import java.util.Locale;

/**
 * A batch of 64 gets through {@code ns_get_many} (what {@link NumaShardMap#execute} does for an
 * all-get batch) against the same batch as {@code ns_op} records through {@code ns_batch} (the
 * path before it), on the process's backend and on JNI, in one JVM on one map. Each round runs
 * the four variants in a rotated order; per key: clear, 64 adds, execute, 64 {@code value(j)}
 * copies. Uniform random keys, all hits, 16-byte keys, 32-byte values (slots of 32 bytes).
 * Prints each variant's best and median ns per key over the measured rounds, and the median of
 * the per-round ratios ns_batch / ns_get_many.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -Xmx2g -cp target/test-classes:target/numashard-*.jar \
 *     io.numashard.bench.GetManyProbe [entries=100000] [rounds=15]
 * </pre>
 */
public final class GetManyProbe {
    private static final String[] NAMES = {"get_many", "ns_batch", "get_many jni", "ns_batch jni"};

    public static void main(String[] args) {
        int n = args.length > 0 ? Keys.count(args[0]) : Keys.SMALL;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
        int warm = 3;
        int batches = 16_000;
        try (NumaShardMap m = NumaShardMap.open()) {
            byte[][] keys = Keys.fill(m, n);
            Batch b = new Batch(64, Keys.VALUE_LEN);
            double[][] ns = new double[4][rounds];
            long x = 4242;
            long sink = 0;
            for (int r = 0; r < warm + rounds; r++) {
                for (int step = 0; step < 4; step++) {
                    int v = (r + step) % 4;
                    boolean getMany = v % 2 == 0;
                    boolean jni = v >= 2;
                    long t0 = System.nanoTime();
                    for (int i = 0; i < batches; i++) {
                        b.clear();
                        for (int j = 0; j < 64; j++) {
                            x = Keys.next(x);
                            b.get(keys[Keys.index(x, n)]);
                        }
                        BenchAccess.execute(m, b, jni, getMany);
                        for (int j = 0; j < 64; j++) {
                            sink += b.value(j).length;
                        }
                    }
                    double perKey = (System.nanoTime() - t0) / (batches * 64.0);
                    if (BenchAccess.ranAsGetMany(b) != getMany) {
                        throw new AssertionError(NAMES[v] + " ran the other path");
                    }
                    if (r >= warm) {
                        ns[v][r - warm] = perKey;
                    }
                }
            }
            System.out.printf(Locale.ROOT, "backend %s, %d entries, batch of 64 gets, %d rounds x %d batches%n",
                    NumaShardMap.nativeBackend(), n, rounds, batches);
            for (int v = 0; v < 4; v++) {
                double[] c = ns[v].clone();
                Arrays.sort(c);
                System.out.printf(Locale.ROOT, "%-13s best %6.1f median %6.1f ns/key%n", NAMES[v], c[0],
                        c[c.length / 2]);
            }
            for (int v = 0; v < 4; v += 2) {
                double[] ratio = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    ratio[r] = ns[v + 1][r] / ns[v][r];
                }
                Arrays.sort(ratio);
                System.out.printf(Locale.ROOT, "%s / %s per round: median %.2fx (range %.2f-%.2f)%n",
                        NAMES[v + 1], NAMES[v], ratio[rounds / 2], ratio[0], ratio[rounds - 1]);
            }
            if (sink == 42) {
                System.out.println();
            }
        }
    }
}
