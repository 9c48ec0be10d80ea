package io.numashard.bench;

import io.numashard.NumaShardMap;
import java.util.Locale;

/**
 * Does a JNI call stop the CPU from overlapping the cache misses of consecutive operations?
 * Three loops over random keys of a {@code byte[][]} (the benchmarks' key array):
 *
 * <ol>
 *   <li>fetch a random key and read one byte (two misses at LARGE: the array slot, the key);
 *   <li>the same plus an empty JNI call ({@code isClosed()}: no engine work);
 *   <li>the empty JNI call alone.
 * </ol>
 *
 * <p>If (2) costs much more than (1) + (3), the crossing serialises the misses around it: a
 * pure-Java map gets several lookups' misses in flight at once, a JNI map one lookup's. Usage:
 * {@code java -cp <test classpath> io.numashard.bench.JniOverlap [SMALL|LARGE]}.
 */
public final class JniOverlap {
    public static void main(String[] args) {
        int n = args.length > 0 ? Keys.count(args[0]) : Keys.LARGE;
        byte[][] keys = new byte[n][];
        for (int i = 0; i < n; i++) {
            keys[i] = Keys.key(i);
        }
        long x = 99;
        long sink = 0;
        try (NumaShardMap m = NumaShardMap.open()) {
            for (int round = 0; round < 6; round++) {
                int ops = 2_000_000;
                long t0 = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    x = Keys.next(x);
                    sink += keys[Keys.index(x, n)][5];
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    x = Keys.next(x);
                    sink += keys[Keys.index(x, n)][5];
                    if (m.isClosed()) {
                        sink++;
                    }
                }
                long t2 = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    if (m.isClosed()) {
                        sink++;
                    }
                }
                long t3 = System.nanoTime();
                System.out.printf(Locale.ROOT,
                        "n=%d per op: key fetch %.1f ns, key fetch + empty JNI call %.1f ns, empty JNI call %.1f ns%n",
                        n, (t1 - t0) / (double) ops, (t2 - t1) / (double) ops, (t3 - t2) / (double) ops);
            }
        }
        if (sink == 42) {
            System.out.println();
        }
    }
}
