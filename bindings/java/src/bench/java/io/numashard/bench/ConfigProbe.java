package io.numashard.bench;

import io.numashard.Batch;
import io.numashard.Config;
import io.numashard.ExecMode;
import io.numashard.NumaShardMap;
import java.util.Locale;

/**
 * Quick, single-threaded look at what the engine's execution settings cost a Java caller (not
 * JMH; for choosing which configurations the JMH run should include).
 * java -cp ... io.numashard.bench.ConfigProbe [entries]
 */
public final class ConfigProbe {
    public static void main(String[] args) {
        int n = args.length > 0 ? Keys.count(args[0]) : Keys.SMALL;
        Object[][] configs = {
            {"default (AUTO)", Config.builder().build()},
            {"AUTO batchDelegateMin=0", Config.builder().batchDelegateMin(0).build()},
            {"AUTO spin=50us", Config.builder().workerSpinUs(50).build()},
            {"AUTO spin=50us bdm=0", Config.builder().workerSpinUs(50).batchDelegateMin(0).build()},
            {"DELEGATE", Config.builder().execMode(ExecMode.DELEGATE).build()},
            {"DELEGATE spin=50us", Config.builder().execMode(ExecMode.DELEGATE).workerSpinUs(50).build()},
            {"1 shard AUTO", Config.builder().shards(1).build()},
        };
        byte[][] keys = new byte[n][];
        for (int i = 0; i < n; i++) {
            keys[i] = Keys.key(i);
        }
        for (Object[] c : configs) {
            try (NumaShardMap m = NumaShardMap.open((Config) c[1])) {
                Batch b = new Batch(1024, 0);
                for (int i = 0; i < n; i++) {
                    b.put(keys[i], Keys.value(i));
                    if (b.size() == 1024 || i == n - 1) {
                        m.execute(b);
                        b.clear();
                    }
                }
                long x = 12345;
                double single = 0;
                double batched = 0;
                double floor = 0;
                Batch g = new Batch(64, 32);
                for (int round = 0; round < 3; round++) {
                    int ops = 200_000;
                    long t0 = System.nanoTime();
                    long sink = 0;
                    for (int i = 0; i < ops; i++) {
                        x = Keys.next(x);
                        sink += m.get(keys[Keys.index(x, n)]).length;
                    }
                    single = (System.nanoTime() - t0) / (double) ops;
                    t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        x = Keys.next(x);
                        sink += m.shardOf(keys[Keys.index(x, n)]);
                    }
                    floor = (System.nanoTime() - t0) / (double) ops;
                    t0 = System.nanoTime();
                    int batches = 10_000;
                    for (int i = 0; i < batches; i++) {
                        g.clear();
                        for (int j = 0; j < 64; j++) {
                            x = Keys.next(x);
                            g.get(keys[Keys.index(x, n)]);
                        }
                        m.execute(g);
                        for (int j = 0; j < 64; j++) {
                            sink += g.value(j).length;
                        }
                    }
                    batched = (System.nanoTime() - t0) / (batches * 64.0);
                    if (sink == 42) {
                        System.out.print("");
                    }
                }
                System.out.printf(Locale.ROOT, "%-28s get %7.1f ns/op   batch-64 get %7.1f ns/key   shardOf (JNI+hash floor) %5.1f ns%n",
                        c[0], single, batched, floor);
            }
        }
    }
}
