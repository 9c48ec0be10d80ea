package io.numashard.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The goals' ratios measured the way noise hurts least: every map filled in ONE process with the
 * same keys, then short timed passes of random all-hit gets taken in turn (map after map, round
 * after round), so a burst of load from elsewhere hits every map alike; the best pass of each
 * map is kept. 1 thread. A cross-check for the JMH run (MapBench), not a replacement.
 *
 * <pre>
 * java -Xmx4g [Chronicle's flags] -cp ... io.numashard.bench.GoalsProbe [LARGE|SMALL|n] [rounds] [opsPerPass]
 * </pre>
 */
public final class GoalsProbe {
    private static final int BATCH = 64;
    private static volatile Object sink;

    public static void main(String[] args) {
        int n = Keys.count(args.length > 0 ? args[0] : "LARGE");
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        int ops = args.length > 2 ? Integer.parseInt(args[2]) : 200_000;
        // ns-jni-direct: the same map type through the JNI backend, in this JVM (on JDK 22+ the
        // default "numashard" is FFM): the two backends interleaved, same keys, same minutes.
        String[] impls = {"chm", "ohc", "ohc-str", "chronicle", "numashard", "ns-typed", "ns-jni-direct"};
        List<Peers> maps = new ArrayList<>();
        for (String impl : impls) {
            long t0 = System.nanoTime();
            maps.add(Peers.open(impl, n));
            System.out.printf(Locale.ROOT, "filled %-9s %d entries in %.1f s%n", impl, n, (System.nanoTime() - t0) / 1e9);
        }
        System.gc();
        // [impl][0 = single get, 1 = batch of 64][round] in ns per key
        double[][][] ns = new double[impls.length][2][rounds];
        int[] idx = new int[BATCH];
        long x = 0x9E3779B97F4A7C15L;
        for (int r = -2; r < rounds; r++) { // two warm-up rounds
            for (int m = 0; m < impls.length; m++) {
                Peers p = maps.get(m);
                long t0 = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    x = Keys.next(x);
                    sink = p.get(Keys.index(x, n));
                }
                long single = System.nanoTime() - t0;
                t0 = System.nanoTime();
                for (int i = 0; i < ops; i += BATCH) {
                    for (int j = 0; j < BATCH; j++) {
                        x = Keys.next(x);
                        idx[j] = Keys.index(x, n);
                    }
                    p.getAll(idx, BATCH, v -> sink = v);
                }
                long batch = System.nanoTime() - t0;
                if (r >= 0) {
                    ns[m][0][r] = (double) single / ops;
                    ns[m][1][r] = (double) batch / ops;
                }
            }
        }
        System.out.printf(Locale.ROOT, "%d entries, %d rounds x %d gets per map, 1 thread, ns per key: best / median%n",
                n, rounds, ops);
        for (int m = 0; m < impls.length; m++) {
            System.out.printf(Locale.ROOT, "  %-9s get %7.1f / %7.1f   batch-of-64 %7.1f / %7.1f%n", impls[m],
                    best(ns[m][0]), median(ns[m][0]), best(ns[m][1]), median(ns[m][1]));
        }
        int chm = 0, ohc = 1, ohcStr = 2, chron = 3, typed = 5, jni = 6;
        System.out.println("numashard's default backend: " + io.numashard.NumaShardMap.nativeBackend() + " on JDK "
                + Runtime.version());
        ratio("get: default backend vs JNI", ns[jni][0], ns[4][0], 0);
        ratio("batch: default backend vs JNI", ns[jni][1], ns[4][1], 0);
        for (int ns1 : new int[] {4, jni}) {
            System.out.println("goals for " + impls[ns1] + " (ratio of throughputs = inverse ratio of times):");
            ratio("single get vs OHC", ns[ohc][0], ns[ns1][0], 1.5);
            ratio("single get vs Chronicle Map", ns[chron][0], ns[ns1][0], 1.0);
            ratio("batch of 64 vs OHC, per key", ns[ohc][1], ns[ns1][1], 4.0);
            ratio("batch of 64 vs CHM single gets", ns[chm][0], ns[ns1][1], 1.0);
        }
        ratio("typed String get vs OHC String", ns[ohcStr][0], ns[typed][0], 1.0);
        for (Peers p : maps) {
            p.close();
        }
    }

    private static void ratio(String label, double[] peer, double[] ours, double goal) {
        double best = best(peer) / best(ours);
        double med = median(peer) / median(ours);
        System.out.printf(Locale.ROOT, "  %-32s best %5.2fx  median %5.2fx  (goal >= %.1fx)%n", label, best, med, goal);
    }

    private static double best(double[] a) {
        return Arrays.stream(a).min().orElse(Double.NaN);
    }

    private static double median(double[] a) {
        double[] c = a.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
