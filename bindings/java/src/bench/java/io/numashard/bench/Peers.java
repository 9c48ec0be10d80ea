package io.numashard.bench;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.numashard.Batch;
import io.numashard.Codec;
import io.numashard.Config;
import io.numashard.NumaShardMap;
import io.numashard.NumaShardTypedMap;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import net.openhft.chronicle.map.ChronicleMap;
import org.caffinitas.ohc.CacheSerializer;
import org.caffinitas.ohc.OHCache;
import org.caffinitas.ohc.OHCacheBuilder;

/**
 * The maps the Java benchmarks compare, each filled with the same n entries (16-byte keys,
 * 32-byte values) and used through its natural API with its natural, prebuilt key:
 *
 * <ul>
 *   <li>{@code chm}: {@code ConcurrentHashMap<String, byte[]>} (on heap);
 *   <li>{@code caffeine}: Caffeine {@code Cache<String, byte[]>} bounded by size (n), on heap;
 *   <li>{@code ohc}: OHC {@code OHCache<byte[], byte[]>} (off heap, byte[] serializers);
 *   <li>{@code ohc-str}: OHC {@code OHCache<String, byte[]>} with a UTF-8 String serializer;
 *   <li>{@code chronicle}: Chronicle Map {@code ChronicleMap<byte[], byte[]>} (off heap, constant
 *       key and value sizes: its best case);
 *   <li>{@code numashard}: {@link NumaShardMap} with byte[] keys;
 *   <li>{@code ns-typed}: {@link NumaShardTypedMap}{@code <String, byte[]>} (UTF-8 codec).
 * </ul>
 *
 * Every get returns the value as a {@code byte[]} (a fresh copy for the off-heap maps).
 */
abstract class Peers {
    static final String[] ALL = {"chm", "caffeine", "ohc", "ohc-str", "chronicle", "numashard", "ns-typed"};

    final int n;
    /** The prebuilt keys: Strings for the maps keyed by String, arrays for the others. */
    String[] skeys;
    byte[][] bkeys;

    Peers(int n) {
        this.n = n;
    }

    abstract byte[] get(int i);

    abstract void put(int i, byte[] value);

    /** Gets keys {@code idx[0..len)} and hands each value to {@code sink} (a batch where the map has one). */
    void getAll(int[] idx, int len, java.util.function.Consumer<byte[]> sink) {
        for (int j = 0; j < len; j++) {
            sink.accept(get(idx[j]));
        }
    }

    /** Off-heap bytes the map reports using (0 for on-heap maps). */
    long offHeapBytes() {
        return 0;
    }

    void close() {}

    /** Drops the prebuilt keys (GcPause measures the map alone; gets fail afterwards). */
    void releaseKeys() {
        skeys = null;
        bkeys = null;
        synchronized (Peers.class) {
            sharedStrings = null;
            sharedBytes = null;
        }
    }

    static Peers open(String impl, int n) {
        Peers p;
        switch (impl) {
            case "chm" -> p = new Chm(n);
            case "caffeine" -> p = new CaffeinePeer(n);
            case "ohc" -> p = new Ohc(n);
            case "ohc-str" -> p = new OhcString(n);
            case "chronicle" -> p = new Chronicle(n);
            case "numashard" -> p = new NumaShard(n);
            case "ns-jni" -> p = new NumaShard(forceJni(n));
            case "ns-jni-direct" -> p = new NumaShardJniDirect(n);
            case "ns-typed" -> p = new NumaShardTyped(n);
            case "ns-typed-jni" -> p = new NumaShardTyped(forceJni(n));
            default -> throw new IllegalArgumentException("unknown impl " + impl);
        }
        p.fill();
        return p;
    }

    /**
     * {@code ns-jni}, {@code ns-typed-jni}: numashard on its JNI backend in a JVM whose default is
     * FFM (JDK 22+), for FFM and JNI side by side in one JMH run. The backend is chosen when
     * NumaShardMap is initialised, so this must come before anything in the (forked) JVM touches
     * it; a JVM already on FFM fails here rather than measure the wrong thing.
     */
    private static int forceJni(int n) {
        System.setProperty("numashard.backend", "jni");
        if (!NumaShardMap.nativeBackend().equals("jni")) {
            throw new IllegalStateException("numashard is already on " + NumaShardMap.nativeBackend()
                    + " in this JVM: the -jni impls need a fresh JVM (a JMH fork)");
        }
        return n;
    }

    void fill() {
        for (int i = 0; i < n; i++) {
            put(i, Keys.value(i));
        }
    }

    /** The keys, built once per process and shared by every map opened in it (GoalsProbe). */
    private static String[] sharedStrings;
    private static byte[][] sharedBytes;

    static synchronized String[] stringKeys(int n) {
        if (sharedStrings == null || sharedStrings.length != n) {
            sharedStrings = new String[n];
            for (int i = 0; i < n; i++) {
                sharedStrings[i] = Keys.keyString(i);
            }
        }
        return sharedStrings;
    }

    static synchronized byte[][] byteKeys(int n) {
        if (sharedBytes == null || sharedBytes.length != n) {
            sharedBytes = new byte[n][];
            for (int i = 0; i < n; i++) {
                sharedBytes[i] = Keys.key(i);
            }
        }
        return sharedBytes;
    }

    static final class Chm extends Peers {
        final ConcurrentHashMap<String, byte[]> map;

        Chm(int n) {
            super(n);
            skeys = stringKeys(n);
            map = new ConcurrentHashMap<>(n * 2);
        }

        @Override
        byte[] get(int i) {
            return map.get(skeys[i]);
        }

        @Override
        void put(int i, byte[] value) {
            map.put(skeys[i], value);
        }
    }

    static final class CaffeinePeer extends Peers {
        final Cache<String, byte[]> cache;

        CaffeinePeer(int n) {
            super(n);
            skeys = stringKeys(n);
            cache = Caffeine.newBuilder().maximumSize(n).initialCapacity(n).build();
        }

        @Override
        byte[] get(int i) {
            return cache.getIfPresent(skeys[i]);
        }

        @Override
        void put(int i, byte[] value) {
            cache.put(skeys[i], value);
        }
    }

    /** OHC's serializer for byte[]: the bytes themselves (OHC hands the exact value slice back). */
    static final class BytesSerializer implements CacheSerializer<byte[]> {
        @Override
        public void serialize(byte[] v, ByteBuffer buf) {
            buf.put(v);
        }

        @Override
        public byte[] deserialize(ByteBuffer buf) {
            byte[] v = new byte[buf.remaining()];
            buf.get(v);
            return v;
        }

        @Override
        public int serializedSize(byte[] v) {
            return v.length;
        }
    }

    /** OHC's serializer for String: UTF-8, the size computed without encoding twice. */
    static final class Utf8Serializer implements CacheSerializer<String> {
        @Override
        public void serialize(String s, ByteBuffer buf) {
            buf.put(s.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String deserialize(ByteBuffer buf) {
            byte[] b = new byte[buf.remaining()];
            buf.get(b);
            return new String(b, StandardCharsets.UTF_8);
        }

        @Override
        public int serializedSize(String s) {
            int len = 0;
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c < 0x80) {
                    len++;
                } else if (c < 0x800) {
                    len += 2;
                } else if (Character.isHighSurrogate(c)) {
                    len += 4;
                    i++;
                } else {
                    len += 3;
                }
            }
            return len;
        }
    }

    static <K> OHCache<K, byte[]> ohc(int n, CacheSerializer<K> keys) {
        int segments = 2 * Runtime.getRuntime().availableProcessors();
        return OHCacheBuilder.<K, byte[]>newBuilder()
                .keySerializer(keys)
                .valueSerializer(new BytesSerializer())
                .capacity(Math.max(64L << 20, (long) n * 256)) // no eviction: room for every entry
                .segmentCount(segments)
                .hashTableSize(Integer.highestOneBit(Math.max(n / segments, 1024)) * 2)
                .build();
    }

    static final class Ohc extends Peers {
        final OHCache<byte[], byte[]> cache;

        Ohc(int n) {
            super(n);
            bkeys = byteKeys(n);
            cache = ohc(n, new BytesSerializer());
        }

        @Override
        byte[] get(int i) {
            return cache.get(bkeys[i]);
        }

        @Override
        void put(int i, byte[] value) {
            cache.put(bkeys[i], value);
        }

        @Override
        long offHeapBytes() {
            return cache.memUsed();
        }

        @Override
        void close() {
            try {
                cache.close();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    static final class OhcString extends Peers {
        final OHCache<String, byte[]> cache;

        OhcString(int n) {
            super(n);
            skeys = stringKeys(n);
            cache = ohc(n, new Utf8Serializer());
        }

        @Override
        byte[] get(int i) {
            return cache.get(skeys[i]);
        }

        @Override
        void put(int i, byte[] value) {
            cache.put(skeys[i], value);
        }

        @Override
        long offHeapBytes() {
            return cache.memUsed();
        }

        @Override
        void close() {
            try {
                cache.close();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    static final class Chronicle extends Peers {
        final ChronicleMap<byte[], byte[]> map;

        Chronicle(int n) {
            super(n);
            bkeys = byteKeys(n);
            map = ChronicleMap.of(byte[].class, byte[].class)
                    .name("bench")
                    .entries(n)
                    .constantKeySizeBySample(new byte[Keys.KEY_LEN])
                    .constantValueSizeBySample(new byte[Keys.VALUE_LEN])
                    .create();
        }

        @Override
        byte[] get(int i) {
            return map.get(bkeys[i]);
        }

        @Override
        void put(int i, byte[] value) {
            map.put(bkeys[i], value);
        }

        @Override
        long offHeapBytes() {
            return map.offHeapMemoryUsed();
        }

        @Override
        void close() {
            map.close();
        }
    }

    static class NumaShard extends Peers {
        final NumaShardMap map;

        NumaShard(int n) {
            super(n);
            bkeys = byteKeys(n);
            map = NumaShardMap.open(Config.defaults());
        }

        @Override
        void fill() {
            Batch b = new Batch(1024, 0);
            for (int i = 0; i < n; i++) {
                b.put(bkeys[i], Keys.value(i));
                if (b.size() == 1024 || i == n - 1) {
                    map.execute(b);
                    b.clear();
                }
            }
            if (map.size() != n) {
                throw new IllegalStateException("populated " + map.size() + " of " + n);
            }
        }

        @Override
        byte[] get(int i) {
            return map.get(bkeys[i]);
        }

        @Override
        void put(int i, byte[] value) {
            map.put(bkeys[i], value);
        }

        private final ThreadLocal<Batch> batches = ThreadLocal.withInitial(() -> new Batch(64, Keys.VALUE_LEN));

        /** One {@link Batch}: one JNI call for all the gets. */
        @Override
        void getAll(int[] idx, int len, java.util.function.Consumer<byte[]> sink) {
            Batch b = batches.get();
            b.clear();
            for (int j = 0; j < len; j++) {
                b.get(bkeys[idx[j]]);
            }
            map.execute(b);
            for (int j = 0; j < len; j++) {
                sink.accept(b.value(j));
            }
        }

        @Override
        long offHeapBytes() {
            return map.stats().mappedBytes();
        }

        @Override
        void close() {
            map.close();
        }
    }

    /**
     * numashard through its JNI backend called directly ({@link io.numashard.BenchAccess}), in a
     * JVM whose default backend may be FFM: both in one process, same keys (GoalsProbe).
     */
    static final class NumaShardJniDirect extends NumaShard {
        NumaShardJniDirect(int n) {
            super(n);
        }

        @Override
        byte[] get(int i) {
            return io.numashard.BenchAccess.jniGet(map, bkeys[i]);
        }

        private final ThreadLocal<Batch> jniBatches = ThreadLocal.withInitial(() -> new Batch(64, Keys.VALUE_LEN));

        @Override
        void getAll(int[] idx, int len, java.util.function.Consumer<byte[]> sink) {
            Batch b = jniBatches.get();
            b.clear();
            for (int j = 0; j < len; j++) {
                b.get(bkeys[idx[j]]);
            }
            io.numashard.BenchAccess.jniExecute(map, b);
            for (int j = 0; j < len; j++) {
                sink.accept(b.value(j));
            }
        }
    }

    static final class NumaShardTyped extends Peers {
        final NumaShardMap raw;
        final NumaShardTypedMap<String, byte[]> map;

        NumaShardTyped(int n) {
            super(n);
            skeys = stringKeys(n);
            raw = NumaShardMap.open(Config.defaults());
            map = raw.typed(Codec.utf8(), Codec.bytes());
        }

        @Override
        void fill() {
            Batch b = new Batch(1024, 0);
            for (int i = 0; i < n; i++) {
                b.put(Keys.key(i), Keys.value(i));
                if (b.size() == 1024 || i == n - 1) {
                    raw.execute(b);
                    b.clear();
                }
            }
        }

        @Override
        byte[] get(int i) {
            return map.get(skeys[i]);
        }

        @Override
        void put(int i, byte[] value) {
            map.put(skeys[i], value);
        }

        @Override
        long offHeapBytes() {
            return raw.stats().mappedBytes();
        }

        @Override
        void close() {
            raw.close();
        }
    }
}
