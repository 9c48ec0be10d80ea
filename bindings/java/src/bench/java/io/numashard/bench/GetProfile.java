package io.numashard.bench;

import io.numashard.NumaShardMap;
import java.util.Locale;

/**
 * A steady single-get (or batch-of-64) loop on one map of {@link Peers}, for a profiler to
 * attach to: the same keys, values and access pattern as {@link MapBench}. Prints the rate every
 * second, the backend numashard runs on, and runs for the given seconds.
 *
 * <pre>
 * java [-Dnumashard.backend=jni] -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -cp ... \
 *     io.numashard.bench.GetProfile IMPL SIZE SECONDS [get|batch]
 * perf record -e cpu-clock -g -p PID    # run-benchmarks.sh profile does both
 * </pre>
 */
public final class GetProfile {
    public static void main(String[] args) {
        String impl = args.length > 0 ? args[0] : "numashard";
        int n = Keys.count(args.length > 1 ? args[1] : "LARGE");
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        boolean batch = args.length > 3 && args[3].equals("batch");
        Peers map = Peers.open(impl, n);
        if (impl.startsWith("n")) {
            System.out.println("numashard backend: " + NumaShardMap.nativeBackend() + " on JDK " + Runtime.version());
        }
        System.out.println("filled " + n + "; pid " + ProcessHandle.current().pid());
        System.out.flush();
        int[] idx = new int[64];
        long x = System.nanoTime() | 1;
        long sink = 0;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            long t0 = System.nanoTime();
            long ops = 0;
            while (System.nanoTime() - t0 < 1_000_000_000L) {
                if (batch) {
                    for (int j = 0; j < 64; j++) {
                        x = Keys.next(x);
                        idx[j] = Keys.index(x, n);
                    }
                    long[] s = {0};
                    map.getAll(idx, 64, v -> s[0] += v.length);
                    sink += s[0];
                    ops += 64;
                } else {
                    for (int j = 0; j < 1000; j++) {
                        x = Keys.next(x);
                        sink += map.get(Keys.index(x, n)).length;
                    }
                    ops += 1000;
                }
            }
            System.out.printf(Locale.ROOT, "%s %s: %.3f Mops/s%n", impl, batch ? "batch" : "get",
                    ops / ((System.nanoTime() - t0) / 1e3));
        }
        map.close();
        if (sink == 42) {
            System.out.println();
        }
    }
}
