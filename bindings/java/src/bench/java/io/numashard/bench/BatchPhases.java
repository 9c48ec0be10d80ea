package io.numashard.bench;

import io.numashard.Batch;
import io.numashard.NumaShardMap;
import java.util.Locale;

/**
 * Where a Java batch of 64 gets spends its time: building (recording the 64 gets), executing
 * (packing the keys and the native call: an all-get batch runs through ns_get_many), reading the
 * values back as byte[]. Single-threaded, SMALL map.
 */
public final class BatchPhases {
    public static void main(String[] args) {
        int n = args.length > 0 ? Keys.count(args[0]) : Keys.SMALL;
        try (NumaShardMap m = NumaShardMap.open()) {
            byte[][] keys = Keys.fill(m, n);
            Batch g = new Batch(64, 32);
            long x = 99;
            long sink = 0;
            for (int round = 0; round < 5; round++) {
                long build = 0;
                long exec = 0;
                long read = 0;
                long single = 0;
                int batches = 20_000;
                for (int i = 0; i < batches; i++) {
                    long t0 = System.nanoTime();
                    g.clear();
                    for (int j = 0; j < 64; j++) {
                        x = Keys.next(x);
                        g.get(keys[Keys.index(x, n)]);
                    }
                    long t1 = System.nanoTime();
                    m.execute(g);
                    long t2 = System.nanoTime();
                    for (int j = 0; j < 64; j++) {
                        sink += g.value(j).length;
                    }
                    long t3 = System.nanoTime();
                    for (int j = 0; j < 64; j++) {
                        x = Keys.next(x);
                        sink += m.get(keys[Keys.index(x, n)]).length;
                    }
                    long t4 = System.nanoTime();
                    build += t1 - t0;
                    exec += t2 - t1;
                    read += t3 - t2;
                    single += t4 - t3;
                }
                double k = batches * 64.0;
                System.out.printf(Locale.ROOT,
                        "n=%d per key: build %.1f ns, execute %.1f ns, read %.1f ns | single get %.1f ns%n",
                        n, build / k, exec / k, read / k, single / k);
            }
            if (sink == 42) {
                System.out.println();
            }
        }
    }
}
