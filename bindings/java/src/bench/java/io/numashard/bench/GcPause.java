package io.numashard.bench;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.Locale;

/**
 * Heap used and one full-GC pause with a map resident, for every map of {@link Peers} (16-byte
 * keys, 32-byte values).
 *
 * <pre>
 * java -Xms6g -Xmx6g -XX:+UseG1GC [Chronicle's flags] -cp ... io.numashard.bench.GcPause IMPL [SMALL|LARGE|n]
 * </pre>
 *
 * Prints one line: impl, entries, heap used after GC, off-heap bytes the map reports, and the
 * full-GC pause (wall time of System.gc() and the collectors' own accounting), best of 3.
 */
public final class GcPause {
    public static void main(String[] args) throws Exception {
        String impl = args.length > 0 ? args[0] : "chm";
        int n = Keys.count(args.length > 1 ? args[1] : "LARGE");
        long t0 = System.nanoTime();
        Peers map = Peers.open(impl, n);
        if (map.get(n - 1) == null || map.get(0) == null) {
            throw new IllegalStateException(impl + ": an entry is missing");
        }
        double fillS = (System.nanoTime() - t0) / 1e9;
        map.releaseKeys(); // the map alone: an on-heap map keeps its keys, an off-heap one copied them
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        System.gc(); // settle: promote everything, drop population garbage
        System.gc();
        long[] resident = bestFullGc();
        long heapUsed = mem.getHeapMemoryUsage().getUsed();
        long offHeap = map.offHeapBytes();
        map.close();
        // The same with the map closed (its memory freed, its threads stopped): what remains is the
        // JVM's own pause with this heap, not the entries'.
        long[] closed = bestFullGc();
        System.out.printf(Locale.ROOT,
                "%-10s entries=%d fill=%.1fs heap_used=%.1f MiB off_heap=%.1f MiB full_gc_wall=%.2f ms full_gc_mxbean=%d ms"
                        + " (best of 3); after close: full_gc_wall=%.2f ms%n",
                impl, n, fillS, heapUsed / 1048576.0, offHeap / 1048576.0, resident[0] / 1e6, resident[1],
                closed[0] / 1e6);
        java.lang.ref.Reference.reachabilityFence(map);
    }

    /** The best of 3 {@code System.gc()}: {wall ns, collectors' ms}. */
    private static long[] bestFullGc() {
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
        return new long[] {bestWallNs, bestGcMs};
    }

    private static long gcMillis() {
        long ms = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ms += Math.max(0, gc.getCollectionTime());
        }
        return ms;
    }
}
