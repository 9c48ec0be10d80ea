package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every single-key call, its outcomes, and the info calls. */
class BasicOperationsTest {
    private NumaShardMap map;

    @BeforeEach
    void open() {
        map = TestSupport.open(4);
    }

    @AfterEach
    void close() {
        map.close();
    }

    @Test
    void versionMatchesHeader() {
        assertEquals("0.1.0", NumaShardMap.nativeVersion().substring(0, 5));
        assertTrue(NumaShardMap.nativeVersion().matches("\\d+\\.\\d+\\.\\d+.*"));
    }

    @Test
    void putGetOverwrite() {
        assertNull(map.get(b("a")));
        assertFalse(map.containsKey(b("a")));
        map.put(b("a"), b("1"));
        assertEquals("1", s(map.get(b("a"))));
        assertTrue(map.containsKey(b("a")));
        map.put(b("a"), b("22"));
        assertEquals("22", s(map.get(b("a"))));
        assertEquals(1, map.size());
    }

    @Test
    void emptyKeyAndEmptyValue() {
        map.put(new byte[0], new byte[0]);
        assertArrayEquals(new byte[0], map.get(new byte[0]));
        map.put(b("k"), new byte[0]);
        assertArrayEquals(new byte[0], map.get(b("k")));
        assertEquals(2, map.size());
        assertArrayEquals(new byte[0], map.take(new byte[0]));
        assertEquals(1, map.size());
    }

    @Test
    void keysAreComparedByContent() {
        map.put(b("same"), b("x"));
        assertEquals("x", s(map.get("same".getBytes())));
    }

    @Test
    void largeKeysAndValuesBeyondTheStackBuffers() {
        Random r = new Random(1);
        byte[] key = new byte[3000];
        byte[] value = new byte[300_000];
        r.nextBytes(key);
        r.nextBytes(value);
        map.put(key, value);
        assertArrayEquals(value, map.get(key));
        assertArrayEquals(value, map.getOrPut(key, b("ignored")));
        ByteBuffer small = ByteBuffer.allocateDirect(10);
        assertEquals(value.length, map.get(key, small));
        assertEquals(0, small.position());
        byte[] bigger = new byte[400_000];
        r.nextBytes(bigger);
        assertTrue(map.compareAndSet(key, value, bigger));
        assertArrayEquals(bigger, map.take(key));
        assertNull(map.get(key));
    }

    @Test
    void smallKeyWithValuesAroundTheScratchSize() {
        // Scratch path: key + value <= 4096 for writes, values <= 3072 for reads; beyond: byte[] path.
        for (int len : new int[] {0, 1, 3071, 3072, 3073, 4080, 4081, 5000, 70_000}) {
            byte[] key = b("k" + len);
            byte[] value = new byte[len];
            new Random(len).nextBytes(value);
            map.put(key, value);
            assertArrayEquals(value, map.get(key), "get " + len);
            assertTrue(map.containsKey(key));
            assertFalse(map.putIfAbsent(key, value));
            assertArrayEquals(value, map.take(key), "take " + len);
            assertNull(map.get(key));
            assertTrue(map.putIfAbsent(key, value));
            assertTrue(map.remove(key));
        }
    }

    @Test
    void putIfAbsentAndGetOrPut() {
        assertTrue(map.putIfAbsent(b("k"), b("v1")));
        assertFalse(map.putIfAbsent(b("k"), b("v2")));
        assertEquals("v1", s(map.get(b("k"))));
        assertEquals("v1", s(map.getOrPut(b("k"), b("v3"))));
        assertNull(map.getOrPut(b("k2"), b("v4")));
        assertEquals("v4", s(map.get(b("k2"))));
    }

    @Test
    void removeAndTake() {
        map.put(b("k"), b("v"));
        assertTrue(map.remove(b("k")));
        assertFalse(map.remove(b("k")));
        map.put(b("k"), b("v"));
        assertEquals("v", s(map.take(b("k"))));
        assertNull(map.take(b("k")));
        assertEquals(0, map.size());
    }

    @Test
    void compareAndSwap() {
        assertEquals(Status.NOT_FOUND, map.compareAndSwap(b("k"), b("a"), b("b")));
        assertFalse(map.compareAndSet(b("k"), b("a"), b("b")));
        map.put(b("k"), b("a"));
        assertEquals(Status.MISMATCH, map.compareAndSwap(b("k"), b("x"), b("b")));
        assertEquals("a", s(map.get(b("k"))));
        assertTrue(map.compareAndSet(b("k"), b("a"), b("b")));
        assertEquals("b", s(map.get(b("k"))));
    }

    @Test
    void swapReturnsThePreviousValue() {
        assertNull(map.swap(b("s"), b("1")), "absent: inserted");
        byte[] big = new byte[5000]; // larger than the native glue's stack buffer
        java.util.Arrays.fill(big, (byte) 7);
        assertEquals("1", s(map.swap(b("s"), big)));
        assertArrayEquals(big, map.swap(b("s"), b("2")));
        assertEquals("2", s(map.get(b("s"))));
        assertThrows(NullPointerException.class, () -> map.swap(b("s"), null));
    }

    @Test
    void compareAndDelete() {
        assertEquals(Status.NOT_FOUND, map.compareAndDelete(b("k"), b("a")));
        map.put(b("k"), b("a"));
        assertEquals(Status.MISMATCH, map.compareAndDelete(b("k"), b("x")));
        assertFalse(map.remove(b("k"), b("x")));
        assertEquals("a", s(map.get(b("k"))));
        assertTrue(map.remove(b("k"), b("a")));
        assertNull(map.get(b("k")));
        map.put(b("e"), new byte[0]);
        assertEquals(Status.OK, map.compareAndDelete(b("e"), new byte[0]), "empty value");
        assertThrows(NullPointerException.class, () -> map.compareAndDelete(b("k"), null));
    }

    @Test
    void countersAreLittleEndianEightBytes() {
        assertEquals(5, map.add(b("c"), 5));
        assertEquals(2, map.add(b("c"), -3));
        assertEquals(2, NumaShardMap.counterValue(map.get(b("c"))));
        assertArrayEquals(NumaShardMap.counterBytes(2), map.get(b("c")));
        map.put(b("d"), NumaShardMap.counterBytes(Long.MAX_VALUE));
        assertEquals(Long.MIN_VALUE, map.add(b("d"), 1), "overflow wraps");
        assertThrows(IllegalArgumentException.class, () -> NumaShardMap.counterValue(b("short")));
    }

    @Test
    void directBufferGetAndPut() {
        ByteBuffer key = ByteBuffer.allocateDirect(16);
        key.put(b("direct-key")).flip();
        ByteBuffer val = ByteBuffer.allocateDirect(32);
        val.put(b("direct-value")).flip();
        map.put(key, val);
        assertEquals(0, key.position(), "key position unchanged");
        assertEquals("direct-value", s(map.get(b("direct-key"))));

        ByteBuffer dst = ByteBuffer.allocateDirect(64);
        dst.position(3);
        assertEquals(12, map.get(key, dst));
        assertEquals(15, dst.position(), "advanced by the length");
        byte[] got = new byte[12];
        dst.get(3, got);
        assertEquals("direct-value", s(got));

        ByteBuffer tiny = ByteBuffer.allocateDirect(4);
        assertEquals(12, map.get(b("direct-key"), tiny), "needed size reported");
        assertEquals(0, tiny.position(), "nothing written");
        assertEquals(NumaShardMap.NOT_FOUND, map.get(b("absent"), tiny));

        ByteBuffer heap = ByteBuffer.allocate(20);
        assertEquals(12, map.get(b("direct-key"), heap));
        assertEquals("direct-value", s(Arrays.copyOf(heap.array(), 12)));
        assertEquals(12, map.get(b("direct-key"), ByteBuffer.allocate(2)));

        assertThrows(IllegalArgumentException.class, () -> map.put(ByteBuffer.wrap(b("k")), val));
        assertThrows(java.nio.ReadOnlyBufferException.class,
                () -> map.get(b("direct-key"), ByteBuffer.allocateDirect(8).asReadOnlyBuffer()));
        assertThrows(IllegalArgumentException.class, () -> map.get(ByteBuffer.wrap(b("k")), dst));
    }

    /**
     * The key read from the very buffer the value is written to (the same direct buffer, a view
     * of it, or the key's own array wrapped as the destination): ns_get forbids the overlap, the
     * glue copies the key apart first. Right value, nothing written when too small, map intact.
     */
    @Test
    void keyOverlapsDestination() {
        byte[] key = b("overlapping-key!"); // 16 bytes
        byte[] value = b("the value of the overlapping key, 48 bytes long.");
        map.put(key, value);
        map.put(b("other"), b("other-value"));

        ByteBuffer buf = ByteBuffer.allocateDirect(64);
        buf.put(0, key);
        ByteBuffer k = buf.duplicate().position(0).limit(16);
        assertEquals(48, map.get(k, buf));
        assertEquals(48, buf.position());
        byte[] got = new byte[48];
        buf.get(0, got);
        assertArrayEquals(value, got, "key at the head of the destination");

        buf.clear();
        buf.put(8, key);
        ByteBuffer mid = buf.slice(8, 16);
        assertEquals(48, map.get(mid, buf));
        buf.get(0, got);
        assertArrayEquals(value, got, "key inside the destination (a slice)");

        buf.clear();
        buf.put(0, key);
        ByteBuffer small = buf.duplicate().limit(32);
        assertEquals(48, map.get(k, small), "needed size reported");
        assertEquals(0, small.position(), "nothing written");
        byte[] head = new byte[16];
        buf.get(0, head);
        assertArrayEquals(key, head, "the key left as it was");

        ByteBuffer absent = ByteBuffer.allocateDirect(64);
        absent.put(0, b("absent-key"));
        assertEquals(NumaShardMap.NOT_FOUND, map.get(absent.duplicate().limit(10), absent));

        byte[] own = b("other");
        assertEquals(11, map.get(own, ByteBuffer.wrap(own)), "the key's array is too small");
        byte[] longKey = b("a key longer than its value");
        map.put(longKey, b("short"));
        byte[] same = longKey.clone();
        assertEquals(5, map.get(same, ByteBuffer.wrap(same)), "the key's own array as the destination");
        assertEquals("short", s(Arrays.copyOf(same, 5)));

        assertArrayEquals(value, map.get(key), "the map intact");
        assertEquals("other-value", s(map.get(b("other"))));
        assertEquals("short", s(map.get(longKey)));
        assertEquals(3, map.size());
    }

    @Test
    void clearAndSize() {
        for (int i = 0; i < 1000; i++) {
            map.put(b("k" + i), b("v" + i));
        }
        assertEquals(1000, map.size());
        map.clear();
        assertEquals(0, map.size());
        assertNull(map.get(b("k1")));
    }

    @Test
    void nullArgumentsThrowNpe() {
        assertThrows(NullPointerException.class, () -> map.get(null));
        assertThrows(NullPointerException.class, () -> map.put(b("k"), null));
        assertThrows(NullPointerException.class, () -> map.put(null, b("v")));
        assertThrows(NullPointerException.class, () -> map.compareAndSet(b("k"), null, b("v")));
        assertThrows(NullPointerException.class, () -> map.add(null, 1));
        assertThrows(NullPointerException.class, () -> NumaShardMap.open(null));
    }

    @Test
    void statsAndPlacement() {
        for (int i = 0; i < 500; i++) {
            map.put(b("k" + i), new byte[32]);
        }
        assertEquals(4, map.shardCount());
        MapStats st = map.stats();
        assertEquals(4, st.shards());
        assertEquals(500, st.entries());
        assertEquals(4, st.perShard().size());
        long sum = 0;
        for (ShardStats s : st.perShard()) {
            sum += s.entries();
            assertTrue(s.pagesOnNode() <= s.pagesTotal());
            assertTrue(s.cpu() >= 0 && s.node() >= 0);
            assertTrue(s.ops() >= 0);
        }
        assertEquals(500, sum);
        assertTrue(st.bytes() >= 500 * 32);
        int shard = map.shardOf(b("k1"));
        assertTrue(shard >= 0 && shard < 4);
        String prom = map.prometheus();
        assertTrue(prom.contains("numashard_"), prom);
        String topo = map.describeTopology();
        assertTrue(topo.startsWith("system:"), topo);
        assertTrue(topo.contains("shard 3"), topo);
    }

    @Test
    void syntheticTopologyReportsBindingNotApplied() {
        try (NumaShardMap m = NumaShardMap.open(
                Config.builder().topology("pack:2 [numa] core:2 pu:1").shardsPerNode(2, 2).build())) {
            MapStats st = m.stats();
            assertEquals(4, st.shards());
            assertFalse(st.bindingApplied());
            assertEquals(2, st.perShard().stream().mapToInt(ShardStats::node).distinct().count());
            m.put(b("k"), b("v"));
            assertEquals("v", s(m.get(b("k"))));
        }
    }

    @Test
    void configOptionsAreAccepted() {
        Config cfg = Config.builder()
                .shards(3)
                .memoryLimit(64L << 20)
                .maxKeyLen(100)
                .maxValueLen(1000)
                .hashSeed(42)
                .workerSpinUs(10)
                .execMode(ExecMode.DELEGATE)
                .batchDelegateMin(4)
                .misplaceMemory(false)
                .build();
        assertTrue(cfg.toString().contains("shards=3"));
        try (NumaShardMap m = NumaShardMap.open(cfg)) {
            assertEquals(3, m.shardCount());
            assertEquals(64L << 20, m.stats().memoryLimit());
            m.put(b("k"), b("v"));
            assertEquals("v", s(m.get(b("k"))));
        }
    }

    @Test
    void defaultConfigOpens() {
        try (NumaShardMap m = NumaShardMap.open()) {
            assertTrue(m.shardCount() >= 1);
            assertNotNull(m.stats());
        }
    }

    /** Every shard's numashard_shard_index_slots, from the Prometheus text. */
    private static long[] indexSlots(NumaShardMap m) {
        return m.prometheus().lines()
                .filter(l -> l.startsWith("numashard_shard_index_slots{"))
                .mapToLong(l -> Long.parseLong(l.substring(l.indexOf('}') + 2).trim()))
                .toArray();
    }

    @Test
    void initialCapacitySizesEveryIndexUpFront() {
        int n = 50_000;
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).initialCapacity(n).build())) {
            long[] atOpen = indexSlots(m);
            assertEquals(2, atOpen.length);
            for (long slots : atOpen) {
                assertTrue(slots * 4 >= n / 2 * 5, Arrays.toString(atOpen));
            }
            for (int i = 0; i < n; i++) {
                m.put(b("k" + i), b("v"));
            }
            assertArrayEquals(atOpen, indexSlots(m), "an index doubled below the initial capacity");
            assertArrayEquals(atOpen, m.stats().perShard().stream().mapToLong(ShardStats::indexSlots).toArray());
            m.clear();
            assertArrayEquals(atOpen, indexSlots(m), "clear goes back to the initial size");
        }
        try (NumaShardMap m = TestSupport.open(2)) {
            for (long slots : indexSlots(m)) {
                assertTrue(slots <= 64, "unhinted index of " + slots + " slots");
            }
            for (int i = 0; i < 1000; i++) {
                m.put(b("k" + i), b("v"));
            }
            for (ShardStats s : m.stats().perShard()) {
                assertTrue(s.growHoldMaxNanos() > 0 && s.indexSlots() > 64 && s.pagesMoved() == 0, s.toString());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Config.builder().initialCapacity(-1));
        assertThrows(IllegalArgumentException.class, () -> Config.builder().initialCapacity((1L << 40) + 1));
    }

    @Test
    void placeRecordsByHashKeepsEveryEntry() {
        int n = 10_000;
        Config placed = Config.builder().shards(2).initialCapacity(4096).placeRecordsByHash(true).build();
        Config plain = Config.builder().shards(2).initialCapacity(4096).build();
        try (NumaShardMap m = NumaShardMap.open(placed); NumaShardMap unplaced = NumaShardMap.open(plain)) {
            // The lines are mapped at open: per shard, the power of two nearest its share of 4096.
            long[] withLines = m.stats().perShard().stream().mapToLong(ShardStats::mappedBytes).toArray();
            long[] without = unplaced.stats().perShard().stream().mapToLong(ShardStats::mappedBytes).toArray();
            for (int i = 0; i < 2; i++) {
                assertEquals(2048L * 64, withLines[i] - without[i], "home lines of shard " + i);
            }
            // 16-byte keys with values of 0..60 bytes: up to 40 fit a line, the rest do not; past
            // the capacity, entries find their lines taken.
            for (int i = 0; i < n; i++) {
                m.put(placedKey(i), placedValue(i, i % 61));
            }
            assertEquals(n, m.size());
            for (int i = 0; i < n; i++) {
                assertArrayEquals(placedValue(i, i % 61), m.get(placedKey(i)), "key " + i);
            }
            // Rewrites move values into and out of lines (lengths 30 apart).
            for (int i = 0; i < n; i += 2) {
                m.put(placedKey(i), placedValue(i, (i + 30) % 61));
            }
            for (int i = 0; i < n; i += 3) {
                assertTrue(m.remove(placedKey(i)), "key " + i);
            }
            int live = n - (n + 2) / 3;
            assertEquals(live, m.size());
            assertEquals(live, m.stats().perShard().stream().mapToLong(ShardStats::entries).sum());
            for (int i = 0; i < n; i++) {
                byte[] want = i % 3 == 0 ? null : placedValue(i, (i % 2 == 0 ? i + 30 : i) % 61);
                assertArrayEquals(want, m.get(placedKey(i)), "key " + i);
            }
        }
        Config noCapacity = Config.builder().shards(2).placeRecordsByHash(true).build();
        Config limited = Config.builder().shards(2).initialCapacity(4096).memoryLimit(64L << 20)
                .placeRecordsByHash(true).build();
        for (Config c : new Config[] {noCapacity, limited}) {
            NumaShardException e =
                    assertThrows(NumaShardException.class, () -> NumaShardMap.open(c).close(), c.toString());
            assertEquals(Status.INVALID_ARGUMENT, e.status());
        }
    }

    /** A 16-byte key. */
    private static byte[] placedKey(int i) {
        return b(String.format("key-%012d", i));
    }

    private static byte[] placedValue(int i, int len) {
        byte[] v = new byte[len];
        for (int j = 0; j < len; j++) {
            v[j] = (byte) (i * 131 + j * 7 + len);
        }
        return v;
    }

    @Test
    void closeIsIdempotent() {
        NumaShardMap m = TestSupport.open(2);
        assertFalse(m.isClosed());
        m.close();
        m.close();
        assertTrue(m.isClosed());
    }
}
