package io.numashard.bench;

import io.numashard.Batch;
import io.numashard.Config;
import io.numashard.MapStats;
import io.numashard.NumaShardMap;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Heap used and one full-GC pause with a map resident: ConcurrentHashMap&lt;String, byte[]&gt; vs
 * numashard, 16-byte keys, 32-byte values.
 *
 * <pre>
 * java -Xms6g -Xmx6g -XX:+UseG1GC -cp ... io.numashard.bench.GcPause chm|numashard [SMALL|LARGE|n]
 * </pre>
 *
 * Prints one line: impl, entries, heap used after GC, native bytes mapped (numashard), and the
 * full-GC pause (wall time of System.gc() and the collectors' own accounting), best of 3.
 */
public final class GcPause {
    public static void main(String[] args) throws Exception {
        String impl = args.length > 0 ? args[0] : "chm";
        int n = Keys.count(args.length > 1 ? args[1] : "LARGE");
        Object keepAlive;
        long nativeBytes = 0;
        long t0 = System.nanoTime();
        if (impl.equals("chm")) {
            ConcurrentHashMap<String, byte[]> chm = new ConcurrentHashMap<>(n * 2);
            for (int i = 0; i < n; i++) {
                chm.put(Keys.keyString(i), Keys.value(i));
            }
            keepAlive = chm;
        } else {
            NumaShardMap ns = NumaShardMap.open(Config.defaults());
            Batch b = new Batch(1024, 0);
            for (int i = 0; i < n; i++) {
                b.put(Keys.key(i), Keys.value(i));
                if (b.size() == 1024 || i == n - 1) {
                    ns.execute(b);
                    b.clear();
                }
            }
            MapStats st = ns.stats();
            nativeBytes = st.mappedBytes();
            if (st.entries() != n) {
                throw new IllegalStateException("entries " + st.entries());
            }
            keepAlive = ns;
        }
        double fillS = (System.nanoTime() - t0) / 1e9;
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        System.gc(); // settle: promote everything, drop population garbage
        System.gc();
        long bestWallNs = Long.MAX_VALUE;
        long bestGcMs = Long.MAX_VALUE;
        for (int rep = 0; rep < 3; rep++) {
            long gcMsBefore = gcMillis();
            long w0 = System.nanoTime();
            System.gc();
            long wall = System.nanoTime() - w0;
            long gcMs = gcMillis() - gcMsBefore;
            bestWallNs = Math.min(bestWallNs, wall);
            bestGcMs = Math.min(bestGcMs, gcMs);
        }
        long heapUsed = mem.getHeapMemoryUsage().getUsed();
        System.out.printf(Locale.ROOT,
                "%-10s entries=%d fill=%.1fs heap_used=%.1f MiB native_mapped=%.1f MiB full_gc_wall=%.2f ms full_gc_mxbean=%d ms (best of 3)%n",
                impl, n, fillS, heapUsed / 1048576.0, nativeBytes / 1048576.0, bestWallNs / 1e6, bestGcMs);
        if (keepAlive instanceof NumaShardMap) {
            ((NumaShardMap) keepAlive).close();
        }
        java.lang.ref.Reference.reachabilityFence(keepAlive);
    }

    private static long gcMillis() {
        long ms = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ms += Math.max(0, gc.getCollectionTime());
        }
        return ms;
    }
}
