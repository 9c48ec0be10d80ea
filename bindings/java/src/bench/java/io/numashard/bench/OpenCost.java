package io.numashard.bench;

import io.numashard.Config;
import io.numashard.NumaShardMap;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What opening maps costs: time and live threads for N maps opened with the defaults, then with
 * one shard each, and the time to close them.
 * java -cp ... io.numashard.bench.OpenCost [maps]
 */
public final class OpenCost {
    public static void main(String[] args) {
        int maps = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        NumaShardMap.open(Config.builder().shards(1).build()).close(); // load the library first
        for (Object[] c : new Object[][] {{"defaults", Config.defaults()}, {"shards(1)", Config.builder().shards(1).build()}}) {
            int threadsBefore = ManagementFactory.getThreadMXBean().getThreadCount();
            List<NumaShardMap> open = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < maps; i++) {
                open.add(NumaShardMap.open((Config) c[1]));
            }
            long opened = System.nanoTime() - t0;
            // Native shard threads are not Java threads: count the process's threads from /proc.
            long tasks = countTasks();
            long t1 = System.nanoTime();
            for (NumaShardMap m : open) {
                m.close();
            }
            long closed = System.nanoTime() - t1;
            System.out.printf(Locale.ROOT, "%d maps, %-9s: open %.0f ms (%.1f ms each), process threads %d (JVM's own %d), close %.0f ms%n",
                    maps, c[0], opened / 1e6, opened / 1e6 / maps, tasks, threadsBefore, closed / 1e6);
        }
    }

    private static long countTasks() {
        java.io.File[] t = new java.io.File("/proc/self/task").listFiles();
        return t == null ? -1 : t.length;
    }
}
