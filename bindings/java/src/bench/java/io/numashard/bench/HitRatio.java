package io.numashard.bench;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.numashard.Config;
import io.numashard.Eviction;
import io.numashard.MapStats;
import io.numashard.NumaShardMap;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.caffinitas.ohc.OHCache;
import org.caffinitas.ohc.OHCacheBuilder;

/**
 * Cache mode against the Java caches users pick instead (Caffeine, OHC): hit ratio and speed of
 * a read-through loop (get; on a miss, put) replaying the exact traces of the Rust table
 * ({@code numashard-cache traces DIR}: little-endian u64 key ids), with the cache sized at 1% and
 * 10% of the key space, 16-byte keys (id then ~id, little-endian), 32-byte values (id
 * little-endian, then zeros), 1 thread.
 *
 * <ul>
 *   <li>{@code numashard}: {@link Eviction#S3_FIFO}, {@code memoryLimit} = capacity × 80 B (what
 *       such an entry is charged: record 56 + slot 16 + queue 8), {@code recordStats(true)};
 *   <li>{@code caffeine}: {@code maximumSize(capacity)}, String keys (the 16 bytes as Latin-1),
 *       {@code executor(Runnable::run)} so its maintenance (eviction) runs on the calling thread
 *       and the hit ratio repeats run to run;
 *   <li>{@code ohc-lru} (OHC's default policy) and {@code ohc-tinylfu} ({@code Eviction.W_TINY_LFU}):
 *       capacity = capacity × 112 B (OHC charges 64 B of entry header + the key rounded up to 8 +
 *       the value), default segment count, byte[] serializers.
 * </ul>
 *
 * Every engine is first run once untimed on one trace (JIT warm-up); each measured run starts
 * from a fresh, empty cache. numashard's own hit/miss counters are checked against the loop's.
 *
 * <pre>
 * java -cp ... io.numashard.bench.HitRatio DIR [trace filter]
 * java -cp ... io.numashard.bench.HitRatio getprobe [entries] [rounds] [getsPerPass]
 * </pre>
 */
public final class HitRatio {
    static final String[] TRACES = {"zipf-0.7", "zipf-0.9", "zipf-0.99", "scan"};
    static final int[] PERCENTS = {1, 10};
    /** numashard's charge for a 16 B / 32 B entry in cache mode. */
    static final long NS_ENTRY = 80;
    /** OHC's allocation for a 16 B / 32 B entry: 64 B header + 16 B key + 32 B value. */
    static final long OHC_ENTRY = 64 + 16 + 32;

    private static volatile Object sink;

    /** The keys and values of every id a trace names, built once (not timed). */
    static final class Data {
        final byte[][] keys;
        final String[] skeys;
        final byte[][] values;

        Data(int ids) {
            keys = new byte[ids][];
            skeys = new String[ids];
            values = new byte[ids][];
            ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < ids; k++) {
                b.clear();
                b.putLong(k).putLong(~(long) k);
                keys[k] = b.array().clone();
                skeys[k] = new String(keys[k], StandardCharsets.ISO_8859_1);
                byte[] v = new byte[32];
                ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).putLong(k);
                values[k] = v;
            }
        }
    }

    abstract static class Engine implements AutoCloseable {
        final String name;
        final Data d;

        Engine(String name, Data d) {
            this.name = name;
            this.d = d;
        }

        /** True on a hit. */
        abstract boolean get(int id);

        abstract void put(int id);

        /** What the engine says about itself after a run (counters, sizes). */
        String note() {
            return "";
        }

        @Override
        public void close() {}
    }

    static final class Ns extends Engine {
        final NumaShardMap map;
        final long limit;

        Ns(Data d, long cap) {
            super("numashard", d);
            limit = cap * NS_ENTRY;
            map = NumaShardMap.open(
                    Config.builder().memoryLimit(limit).eviction(Eviction.S3_FIFO).recordStats(true).build());
        }

        @Override
        boolean get(int id) {
            return map.get(d.keys[id]) != null;
        }

        @Override
        void put(int id) {
            map.put(d.keys[id], d.values[id]);
        }

        @Override
        String note() {
            MapStats s = map.stats();
            return String.format(Locale.ROOT, "shards %d, entries %d, evictions %d, counted hits %d misses %d",
                    map.shardCount(), map.size(), s.evictions(), s.hits(), s.misses());
        }

        @Override
        public void close() {
            map.close();
        }
    }

    static final class Caff extends Engine {
        final Cache<String, byte[]> cache;

        Caff(Data d, long cap) {
            super("caffeine", d);
            cache = Caffeine.newBuilder().maximumSize(cap).executor(Runnable::run).build();
        }

        @Override
        boolean get(int id) {
            return cache.getIfPresent(d.skeys[id]) != null;
        }

        @Override
        void put(int id) {
            cache.put(d.skeys[id], d.values[id]);
        }

        @Override
        String note() {
            cache.cleanUp();
            return "entries " + cache.estimatedSize();
        }
    }

    static final class Ohc extends Engine {
        final OHCache<byte[], byte[]> cache;
        long refused;

        Ohc(Data d, long cap, boolean tinyLfu) {
            super(tinyLfu ? "ohc-tinylfu" : "ohc-lru", d);
            OHCacheBuilder<byte[], byte[]> b = OHCacheBuilder.<byte[], byte[]>newBuilder()
                    .keySerializer(new Peers.BytesSerializer())
                    .valueSerializer(new Peers.BytesSerializer())
                    .capacity(cap * OHC_ENTRY);
            if (tinyLfu) {
                b.eviction(org.caffinitas.ohc.Eviction.W_TINY_LFU);
            }
            cache = b.build();
        }

        @Override
        boolean get(int id) {
            return cache.get(d.keys[id]) != null;
        }

        @Override
        void put(int id) {
            if (!cache.put(d.keys[id], d.values[id])) {
                refused++;
            }
        }

        @Override
        String note() {
            return String.format(Locale.ROOT, "segments %d, entries %d, evictions %d, refused puts %d, memUsed %d of %d",
                    cache.stats().getSegmentSizes().length, cache.size(), cache.stats().getEvictionCount(), refused,
                    cache.memUsed(), cache.capacity());
        }

        @Override
        public void close() {
            try {
                cache.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    static List<Engine> engines(Data d, long cap) {
        List<Engine> l = new ArrayList<>();
        l.add(new Ns(d, cap));
        l.add(new Caff(d, cap));
        l.add(new Ohc(d, cap, false));
        l.add(new Ohc(d, cap, true));
        return l;
    }

    static int[] readTrace(Path p) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        int[] t = new int[b.remaining() / 8];
        for (int i = 0; i < t.length; i++) {
            long k = b.getLong();
            if (k < 0 || k > Integer.MAX_VALUE - 1) {
                throw new IllegalArgumentException(p + ": key id out of range: " + k);
            }
            t[i] = (int) k;
        }
        return t;
    }

    /** Replays the trace read-through; returns {hits, nanos}. */
    static long[] run(Engine e, int[] trace) {
        long hits = 0;
        long t0 = System.nanoTime();
        for (int id : trace) {
            if (e.get(id)) {
                hits++;
            } else {
                e.put(id);
            }
        }
        return new long[] {hits, System.nanoTime() - t0};
    }

    public static void main(String[] args) throws IOException {
        if (args.length > 0 && args[0].equals("getprobe")) {
            getProbe(args);
            return;
        }
        Path dir = Path.of(args.length > 0 ? args[0] : "target/cache-traces");
        String only = args.length > 1 ? args[1] : "";
        List<String> names = new ArrayList<>();
        List<int[]> traces = new ArrayList<>();
        int ids = 0;
        for (String name : TRACES) {
            if (!name.contains(only)) {
                continue;
            }
            int[] t = readTrace(dir.resolve(name + ".u64"));
            names.add(name);
            traces.add(t);
            for (int k : t) {
                ids = Math.max(ids, k + 1);
            }
        }
        if (traces.isEmpty()) {
            throw new IllegalArgumentException("no trace matches '" + only + "' in " + dir);
        }
        Data d = new Data(ids);
        long keySpace = 100_000; // the Zipf key space of every trace (scan keys beyond it are fresh)
        // JIT warm-up: every engine replays one trace once, untimed, on a throw-away cache.
        for (Engine e : engines(d, keySpace / 10)) {
            run(e, traces.get(0));
            e.close();
        }
        System.out.printf(Locale.ROOT, "key space %d, traces from %s, 16 B keys, 32 B values, read-through, 1 thread, "
                + "Java %s%n", keySpace, dir, System.getProperty("java.version"));
        System.out.println("| trace | requests | cache | engine | hit ratio | Mops/s | numashard − best peer (pp) |");
        System.out.println("|---|---|---|---|---|---|---|");
        List<String> notes = new ArrayList<>();
        for (int ti = 0; ti < traces.size(); ti++) {
            int[] trace = traces.get(ti);
            for (int pct : PERCENTS) {
                long cap = keySpace * pct / 100;
                List<Engine> es = engines(d, cap);
                double[] ratio = new double[es.size()];
                double[] mops = new double[es.size()];
                for (int i = 0; i < es.size(); i++) {
                    Engine e = es.get(i);
                    System.gc();
                    long[] r = run(e, trace);
                    ratio[i] = (double) r[0] / trace.length;
                    mops[i] = trace.length / (r[1] / 1e3);
                    if (e instanceof Ns ns) {
                        MapStats s = ns.map.stats();
                        if (s.hits() != r[0] || s.misses() != trace.length - r[0]) {
                            throw new IllegalStateException("numashard counters disagree with the loop: hits "
                                    + s.hits() + " vs " + r[0] + ", misses " + s.misses());
                        }
                        if (s.bytes() > ns.limit) {
                            throw new IllegalStateException("numashard over its limit: " + s.bytes() + " > " + ns.limit);
                        }
                    }
                    notes.add(String.format(Locale.ROOT, "%s %d%% %s: %s", names.get(ti), pct, e.name, e.note()));
                    e.close();
                }
                double best = 0;
                for (int i = 1; i < es.size(); i++) {
                    best = Math.max(best, ratio[i]);
                }
                for (int i = 0; i < es.size(); i++) {
                    String delta = i == 0 ? String.format(Locale.ROOT, "%+.2f", (ratio[0] - best) * 100) : "";
                    System.out.printf(Locale.ROOT, "| %s | %d | %d%% | %s | %.4f | %.2f | %s |%n", names.get(ti),
                            trace.length, pct, es.get(i).name, ratio[i], mops[i], delta);
                }
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "capacity: numashard memoryLimit = entries x %d B; caffeine maximumSize = entries; "
                + "ohc capacity = entries x %d B%n", NS_ENTRY, OHC_ENTRY);
        for (String n : notes) {
            System.out.println("  " + n);
        }
    }

    /**
     * Cache-mode single get against OHC, all hits: numashard with S3-FIFO eviction and hit/miss
     * counters on, OHC (LRU, its default) and, for reference, numashard without eviction — each
     * filled with the same n entries and given room for all of them (numashard: n × 80 B × 2, OHC:
     * n × 112 B × 2), then timed passes of uniformly random gets taken in turn, round after round;
     * best and median pass per engine, ns per get, 1 thread.
     */
    static void getProbe(String[] args) {
        int n = Keys.count(args.length > 1 ? args[1] : "SMALL");
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 9;
        int ops = args.length > 3 ? Integer.parseInt(args[3]) : 1_000_000;
        Data d = new Data(n);
        NumaShardMap cacheMode = NumaShardMap.open(Config.builder().memoryLimit(n * NS_ENTRY * 2)
                .eviction(Eviction.S3_FIFO).recordStats(true).build());
        NumaShardMap mapMode = NumaShardMap.open(Config.defaults());
        OHCache<byte[], byte[]> ohc = OHCacheBuilder.<byte[], byte[]>newBuilder()
                .keySerializer(new Peers.BytesSerializer()).valueSerializer(new Peers.BytesSerializer())
                .capacity(n * OHC_ENTRY * 2).build();
        for (int k = 0; k < n; k++) {
            cacheMode.put(d.keys[k], d.values[k]);
            mapMode.put(d.keys[k], d.values[k]);
            ohc.put(d.keys[k], d.values[k]);
        }
        if (cacheMode.size() != n || ohc.size() != n || mapMode.size() != n) {
            throw new IllegalStateException("fill lost entries: numashard cache " + cacheMode.size() + ", ohc "
                    + ohc.size() + ", numashard map " + mapMode.size() + " of " + n);
        }
        String[] names = {"numashard cache (S3-FIFO, stats)", "ohc (LRU)", "numashard map (no eviction)"};
        double[][] ns = new double[3][rounds];
        long x = 0x9E3779B97F4A7C15L;
        for (int r = -2; r < rounds; r++) { // two warm-up rounds
            for (int m = 0; m < 3; m++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    x = Keys.next(x);
                    byte[] k = d.keys[Keys.index(x, n)];
                    sink = m == 0 ? cacheMode.get(k) : m == 1 ? ohc.get(k) : mapMode.get(k);
                }
                if (r >= 0) {
                    ns[m][r] = (double) (System.nanoTime() - t0) / ops;
                }
            }
        }
        long misses = cacheMode.stats().misses() + ohc.stats().getMissCount();
        System.out.printf(Locale.ROOT, "cache-mode single get, %d entries (16 B keys, 32 B values), all hits, 1 thread, "
                + "%d rounds x %d gets: ns per get, best / median%n", n, rounds, ops);
        for (int m = 0; m < 3; m++) {
            System.out.printf(Locale.ROOT, "  %-34s %7.1f / %7.1f%n", names[m], best(ns[m]), median(ns[m]));
        }
        System.out.printf(Locale.ROOT, "  numashard cache vs OHC (throughput ratio): best %.2fx, median %.2fx (goal >= 1.0x); "
                + "misses seen %d%n", best(ns[1]) / best(ns[0]), median(ns[1]) / median(ns[0]), misses);
        if (misses != 0) {
            throw new IllegalStateException("the probe is meant to be all hits; saw " + misses + " misses");
        }
        cacheMode.close();
        mapMode.close();
        try {
            ohc.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
