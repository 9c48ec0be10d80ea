package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToLongFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Cache mode through the binding: times to live on every write that takes one (single calls,
 * batch kinds, the typed view), expire / persist / ttl, eviction within the memory limit, the
 * hit / miss / eviction / expiration counters, and configurations the engine must refuse.
 */
class CacheTest {
    private static final Duration HOUR = Duration.ofHours(1);

    /** Waits (bounded) until {@code key} is gone; fails when it is still readable after 10 s. */
    private static void awaitExpired(NumaShardMap m, byte[] key) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (m.get(key) != null) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("still readable 10 s after its time to live: " + s(key));
            }
            Thread.sleep(5);
        }
    }

    private static long sum(List<ShardStats> shards, ToLongFunction<ShardStats> f) {
        return shards.stream().mapToLong(f).sum();
    }

    @Test
    void ttlConversionRoundsUpAndMapsForever() {
        assertEquals(0, TtlMillis.of(Duration.ZERO, "t"));
        assertEquals(1, TtlMillis.of(Duration.ofNanos(1), "t"), "never rounded down to the map's default");
        assertEquals(2, TtlMillis.of(Duration.ofMillis(1).plusNanos(1), "t"));
        assertEquals(1500, TtlMillis.of(Duration.ofMillis(1500), "t"));
        assertEquals(TtlMillis.NEVER, TtlMillis.of(NumaShardMap.NO_EXPIRY, "t"));
        assertEquals(TtlMillis.NEVER, TtlMillis.of(Duration.ofSeconds(Long.MAX_VALUE / 1000), "t"));
        assertEquals((Long.MAX_VALUE / 1000 - 1) * 1000, TtlMillis.of(Duration.ofSeconds(Long.MAX_VALUE / 1000 - 1), "t"));
        assertThrows(IllegalArgumentException.class, () -> TtlMillis.of(Duration.ofMillis(-1), "t"));
        assertThrows(IllegalArgumentException.class, () -> TtlMillis.forStore(Duration.ZERO));
        assertEquals(Optional.empty(), TtlMillis.remaining(NumaShardMap.TTL_ABSENT));
        assertEquals(Optional.of(NumaShardMap.NO_EXPIRY), TtlMillis.remaining(NumaShardMap.TTL_NEVER));
        assertEquals(Optional.of(Duration.ofMillis(7)), TtlMillis.remaining(7));
    }

    @Test
    void entriesExpireAtTheirTimeToLive() throws InterruptedException {
        try (NumaShardMap m = TestSupport.open(2)) {
            Duration ttl = Duration.ofMillis(300);
            long start = System.nanoTime();
            m.put(b("short"), b("v1"), ttl);
            assertTrue(m.putIfAbsent(b("shortPia"), b("v2"), ttl));
            assertNull(m.swap(b("shortSwap"), b("v3"), ttl));
            assertNull(m.getOrPut(b("shortGop"), b("v4"), ttl));
            m.put(b("long"), b("stays"), HOUR);
            m.put(b("plain"), b("forever"));
            byte[][] shortKeys = {b("short"), b("shortPia"), b("shortSwap"), b("shortGop")};
            boolean withinTtl = true;
            for (byte[] k : shortKeys) {
                byte[] v = m.get(k);
                // Only assert presence while we know the TTL has not run out (a stalled machine).
                withinTtl = System.nanoTime() - start < ttl.toNanos();
                if (withinTtl) {
                    assertTrue(v != null, "readable before its deadline: " + s(k));
                    long left = m.ttlMillis(k);
                    assertTrue(left > 0 && left <= 300, "ttl " + left);
                }
            }
            for (byte[] k : shortKeys) {
                awaitExpired(m, k);
            }
            assertTrue(System.nanoTime() - start >= ttl.toNanos() - 1_000_000, "not expired before its TTL");
            for (byte[] k : shortKeys) {
                assertNull(m.get(k));
                assertFalse(m.containsKey(k));
                assertEquals(NumaShardMap.TTL_ABSENT, m.ttlMillis(k));
                assertFalse(m.expire(k, HOUR), "an expired entry cannot be revived");
            }
            assertEquals(2, m.size(), "size counts only live entries");
            List<String> seen = new ArrayList<>();
            m.forEach((k, v) -> seen.add(s(k)));
            seen.sort(null);
            assertEquals(List.of("long", "plain"), seen, "iteration skips expired entries");
            Batch batch = new Batch();
            int miss = batch.get(b("short"));
            int hit = batch.get(b("long"));
            m.execute(batch);
            assertEquals(Status.NOT_FOUND, batch.status(miss));
            assertEquals("stays", s(batch.value(hit)));
            // An expired key is absent for put-if-absent: inserting again works.
            assertTrue(m.putIfAbsent(b("short"), b("again"), HOUR));
            assertEquals("again", s(m.get(b("short"))));
            assertTrue(m.stats().expirations() >= 1, "expirations counted");
        }
    }

    @Test
    void expirePersistAndTtl() {
        try (NumaShardMap m = TestSupport.open(2)) {
            m.put(b("k"), b("v"));
            assertEquals(Optional.of(NumaShardMap.NO_EXPIRY), m.ttl(b("k")));
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("k")));
            assertTrue(m.expire(b("k"), HOUR));
            long left = m.ttlMillis(b("k"));
            assertTrue(left > HOUR.toMillis() - 60_000 && left <= HOUR.toMillis(), "ttl " + left);
            Duration d = m.ttl(b("k")).orElseThrow();
            assertTrue(d.compareTo(HOUR) <= 0 && d.compareTo(HOUR.minusMinutes(1)) > 0, d.toString());
            assertTrue(m.persist(b("k")));
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("k")));
            assertTrue(m.expire(b("k"), HOUR));
            assertTrue(m.expire(b("k"), NumaShardMap.NO_EXPIRY), "NO_EXPIRY = persist");
            assertEquals(Optional.of(NumaShardMap.NO_EXPIRY), m.ttl(b("k")));

            assertFalse(m.expire(b("absent"), HOUR));
            assertFalse(m.persist(b("absent")));
            assertEquals(Optional.empty(), m.ttl(b("absent")));
            assertEquals(NumaShardMap.TTL_ABSENT, m.ttlMillis(b("absent")));
            assertEquals(1, m.size(), "calls on an absent key create nothing");

            // Bad durations are refused before anything changes.
            assertThrows(IllegalArgumentException.class, () -> m.expire(b("k"), Duration.ofMillis(-5)));
            assertThrows(IllegalArgumentException.class, () -> m.put(b("k"), b("w"), Duration.ZERO));
            assertThrows(IllegalArgumentException.class, () -> m.putIfAbsent(b("n"), b("w"), Duration.ofSeconds(-1)));
            assertThrows(IllegalArgumentException.class, () -> m.swap(b("k"), b("w"), Duration.ZERO));
            assertThrows(IllegalArgumentException.class, () -> m.getOrPut(b("n"), b("w"), Duration.ZERO));
            assertThrows(NullPointerException.class, () -> m.put(b("k"), b("w"), null));
            assertEquals("v", s(m.get(b("k"))));
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("k")));
            assertEquals(1, m.size());

            // Expire now removes the entry.
            assertTrue(m.expire(b("k"), Duration.ZERO));
            assertNull(m.get(b("k")));
            assertEquals(0, m.size());
        }
    }

    @Test
    void ttlWritesReturnWhatTheUntimedOnesReturn() {
        try (NumaShardMap m = TestSupport.open(2)) {
            m.put(b("a"), b("1"), HOUR);
            assertEquals("1", s(m.swap(b("a"), b("2"), Duration.ofHours(2))), "swap returns the previous value");
            assertTrue(m.ttlMillis(b("a")) > HOUR.toMillis(), "swap stored the new TTL");
            assertFalse(m.putIfAbsent(b("a"), b("x"), HOUR));
            assertEquals("2", s(m.getOrPut(b("a"), b("y"), HOUR)), "getOrPut returns the present value");
            assertTrue(m.ttlMillis(b("a")) > HOUR.toMillis(), "a present entry keeps its own TTL");
            m.put(b("a"), b("3"), NumaShardMap.NO_EXPIRY);
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("a")));
            ByteBuffer dk = ByteBuffer.allocateDirect(8).put(b("direct")).flip();
            ByteBuffer dv = ByteBuffer.allocateDirect(8).put(b("dv")).flip();
            m.put(dk, dv, Duration.ofMinutes(3));
            assertEquals("dv", s(m.get(b("direct"))));
            long d = m.ttlMillis(b("direct"));
            assertTrue(d > 2 * 60_000 && d <= 3 * 60_000, "direct put stored its TTL: " + d);
            assertThrows(IllegalArgumentException.class, () -> m.put(dk, dv, Duration.ZERO));

            // Previous values larger than the glue's stack buffer: the one-op batch path retries.
            byte[] big = TestSupport.value(7, 3, 5000);
            m.put(b("big"), big, HOUR);
            assertArrayEquals(big, m.swap(b("big"), big.clone(), HOUR));
            assertArrayEquals(big, m.getOrPut(b("big"), b("z"), HOUR));
            assertTrue(m.ttlMillis(b("big")) > 0);
        }
    }

    @Test
    void whichWritesKeepOrReplaceTheDeadline() {
        try (NumaShardMap m = TestSupport.open(2)) {
            long hour = HOUR.toMillis();
            byte[] ctr = b("ctr");
            m.put(ctr, NumaShardMap.counterBytes(1), HOUR);
            m.add(ctr, 1);
            assertTrue(m.ttlMillis(ctr) > hour - 60_000, "add keeps the deadline");
            m.put(b("cas"), b("a"), HOUR);
            assertTrue(m.compareAndSet(b("cas"), b("a"), b("b")));
            assertTrue(m.ttlMillis(b("cas")) > hour - 60_000, "compareAndSet keeps the deadline");
            NumaShardTypedMap<String, String> t = m.typed(Codec.utf8(), Codec.utf8());
            t.put("typed", "1", HOUR);
            assertEquals("1", t.replace("typed", "2"));
            assertEquals("2", t.merge("typed", "3", String::concat).substring(0, 1));
            assertTrue(m.ttlMillis(b("typed")) > hour - 60_000, "replace / merge keep the deadline (compare-and-set)");

            m.put(b("put"), b("a"), HOUR);
            m.put(b("put"), b("b"));
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("put")), "put replaces it (with the map's default)");
            m.put(b("swap"), b("a"), HOUR);
            m.swap(b("swap"), b("b"));
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("swap")), "swap replaces it");
            t.put("typedPut", "1", HOUR);
            t.put("typedPut", "2");
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("typedPut")), "typed put replaces it (swap)");
        }
    }

    @Test
    void longKeysAndValuesTakeTheArrayPath() {
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).maxKeyLen(20_000).build())) {
            byte[] key = TestSupport.value(1, 1, 6000); // larger than the per-thread scratch
            byte[] value = TestSupport.value(2, 2, 9000);
            m.put(key, value, HOUR);
            assertArrayEquals(value, m.get(key));
            long left = m.ttlMillis(key);
            assertTrue(left > 0 && left <= HOUR.toMillis(), "ttl " + left);
            assertTrue(m.persist(key));
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(key));
            assertFalse(m.putIfAbsent(key, value, HOUR));
            assertTrue(m.expire(key, Duration.ZERO));
            assertEquals(NumaShardMap.TTL_ABSENT, m.ttlMillis(key));
            assertTrue(m.putIfAbsent(key, value, HOUR));
        }
    }

    @Test
    void defaultTtlAppliesToWritesWithoutOne() {
        Config cfg = Config.builder().shards(2).defaultTtl(Duration.ofMinutes(10)).build();
        try (NumaShardMap m = NumaShardMap.open(cfg)) {
            m.put(b("plain"), b("v"));
            long left = m.ttlMillis(b("plain"));
            assertTrue(left > 9 * 60_000 && left <= 10 * 60_000, "default ttl " + left);
            m.add(b("ctr"), 1);
            assertTrue(m.ttlMillis(b("ctr")) > 0, "a counter add creates gets the default too");
            m.put(b("own"), b("v"), HOUR);
            assertTrue(m.ttlMillis(b("own")) > 10 * 60_000, "an explicit TTL wins");
            m.put(b("forever"), b("v"), NumaShardMap.NO_EXPIRY);
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("forever")), "NO_EXPIRY outlives the default");
        }
        Config none = Config.builder().shards(1).defaultTtl(NumaShardMap.NO_EXPIRY).build();
        try (NumaShardMap m = NumaShardMap.open(none)) {
            m.put(b("k"), b("v"));
            assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(b("k")), "a NO_EXPIRY default is no default");
        }
    }

    @Test
    void badConfigurationsAreRejected() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Config.builder().eviction(Eviction.S3_FIFO).build());
        assertTrue(e.getMessage().contains("memoryLimit"), e.getMessage());
        assertThrows(IllegalStateException.class,
                () -> Config.builder().memoryLimit(0).eviction(Eviction.S3_FIFO).build());
        assertThrows(NullPointerException.class, () -> Config.builder().eviction(null));
        assertThrows(IllegalArgumentException.class, () -> Config.builder().defaultTtl(Duration.ofSeconds(-1)));
        assertThrows(NullPointerException.class, () -> Config.builder().defaultTtl(null));
        // NONE needs no limit; the engine accepts the cache settings it is given.
        Config ok = Config.builder().shards(2).memoryLimit(1 << 20).eviction(Eviction.S3_FIFO)
                .defaultTtl(Duration.ofSeconds(30)).recordStats(true).build();
        assertTrue(ok.toString().contains("eviction=S3_FIFO"), ok.toString());
        try (NumaShardMap m = NumaShardMap.open(ok)) {
            assertEquals(1 << 20, m.stats().memoryLimit());
        }
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(1).eviction(Eviction.NONE).build())) {
            m.put(b("k"), b("v"));
        }
    }

    @Test
    void evictionKeepsWithinTheLimitAndNeverThrowsFull() {
        long limit = 256 << 10;
        int shards = 2;
        Config cfg = Config.builder().shards(shards).memoryLimit(limit).eviction(Eviction.S3_FIFO).build();
        try (NumaShardMap m = NumaShardMap.open(cfg)) {
            int n = TestSupport.scaled(40_000);
            long hitsExpected = 0;
            for (int i = 0; i < n; i++) {
                byte[] key = String.format("key-%012d", i).getBytes(); // 16 bytes
                m.put(key, TestSupport.value(i, i, 32)); // never MapFullException
                if (i % 4 == 0 && m.get(key) != null) {
                    hitsExpected++;
                }
                if (i % 5000 == 0) {
                    MapStats st = m.stats();
                    assertTrue(st.bytes() <= limit, "bytes " + st.bytes() + " > limit " + limit);
                    for (ShardStats sh : st.perShard()) {
                        assertTrue(sh.bytes() <= limit / shards, "shard " + sh.shard() + " bytes " + sh.bytes());
                    }
                }
            }
            MapStats st = m.stats();
            assertTrue(st.bytes() <= limit, "bytes " + st.bytes());
            assertTrue(st.evictions() > 0 && st.entries() < n, st.toString());
            assertEquals(n, st.entries() + st.evictions(), "every entry is stored or was evicted");
            assertEquals(st.evictions(), sum(st.perShard(), ShardStats::evictions));
            assertTrue(st.hits() >= hitsExpected, "hits counted with eviction (no recordStats needed)");
            assertEquals(st.hits(), sum(st.perShard(), ShardStats::hits));
            // What is still there reads back whole.
            int[] live = {0};
            m.forEach((k, v) -> {
                int tag = Integer.parseInt(new String(k).substring(4));
                TestSupport.checkValue(tag, v, 32);
                live[0]++;
            });
            assertEquals(st.entries(), live[0]);
            // Batches evict too.
            Batch batch = new Batch();
            for (int i = 0; i < 500; i++) {
                batch.put(String.format("bat-%012d", i).getBytes(), new byte[32], HOUR);
            }
            m.execute(batch);
            for (int i = 0; i < batch.size(); i++) {
                assertEquals(Status.OK, batch.status(i));
            }
            assertTrue(m.stats().bytes() <= limit);

            // An entry larger than a shard's share is refused and changes nothing.
            long before = m.size();
            byte[] huge = new byte[(int) (limit / shards) + 1];
            assertThrows(MapFullException.class, () -> m.put(b("huge"), huge));
            assertThrows(MapFullException.class, () -> m.put(b("huge"), huge, HOUR));
            assertNull(m.get(b("huge")));
            assertEquals(before, m.size());
        }
    }

    @Test
    void concurrentWritersUnderEvictionSeeWholeValues() throws InterruptedException {
        Config cfg = Config.builder().shards(2).memoryLimit(128 << 10).eviction(Eviction.S3_FIFO).build();
        try (NumaShardMap m = NumaShardMap.open(cfg)) {
            int threads = 3;
            int ops = TestSupport.scaled(30_000);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> all = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int seed = t;
                Thread th = new Thread(() -> {
                    try {
                        Random r = new Random(seed);
                        for (int i = 0; i < ops; i++) {
                            int tag = r.nextInt(5000);
                            byte[] key = ("k" + tag).getBytes();
                            switch (r.nextInt(4)) {
                                case 0 -> m.put(key, TestSupport.value(tag, i, 48), Duration.ofMillis(1 + r.nextInt(50)));
                                case 1 -> m.put(key, TestSupport.value(tag, i, 48));
                                default -> {
                                    byte[] v = m.get(key);
                                    if (v != null) {
                                        TestSupport.checkValue(tag, v, 48);
                                    }
                                }
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
                all.add(th);
                th.start();
            }
            for (Thread th : all) {
                th.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("a writer or reader failed", failure.get());
            }
            assertTrue(m.stats().bytes() <= 128 << 10);
        }
    }

    @Test
    void countersMove() throws InterruptedException {
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).build())) {
            m.put(b("a"), b("1"));
            m.get(b("a"));
            m.get(b("zz"));
            MapStats st = m.stats();
            assertEquals(0, st.hits(), "no counting unless asked");
            assertEquals(0, st.misses());
            assertTrue(Double.isNaN(st.hitRatio()));
        }
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).recordStats(true).build())) {
            for (int i = 0; i < 10; i++) {
                m.put(b("k" + i), b("v"));
            }
            for (int i = 0; i < 10; i++) {
                assertEquals("v", s(m.get(b("k" + i))));
            }
            for (int i = 0; i < 4; i++) {
                assertNull(m.get(b("miss" + i)));
            }
            MapStats st = m.stats();
            assertEquals(10, st.hits());
            assertEquals(4, st.misses());
            assertEquals(10.0 / 14, st.hitRatio(), 1e-9);
            assertEquals(st.hits(), sum(st.perShard(), ShardStats::hits));
            assertEquals(st.misses(), sum(st.perShard(), ShardStats::misses));
            assertEquals(0, st.evictions());
            assertEquals(0, st.expirations());

            m.put(b("gone"), b("v"), Duration.ofMillis(20));
            awaitExpired(m, b("gone"));
            // Reclaiming is lazy (a write that meets the expired entry, len, or the owner's sweep):
            // counted once, whichever comes first.
            m.put(b("gone"), b("back"));
            st = m.stats();
            assertEquals(1, st.expirations(), st.toString());
            assertEquals(st.expirations(), sum(st.perShard(), ShardStats::expirations));
            assertTrue(m.prometheus().contains("numashard_"), "the Prometheus text still renders");
        }
    }

    @Test
    void batchKindsWithTimesToLive() {
        try (NumaShardMap m = TestSupport.open(2)) {
            m.put(b("p"), b("present"), HOUR);
            m.put(b("s"), b("old"));
            m.put(b("e"), b("v"));
            Batch batch = new Batch(8, 16);
            int put = batch.put(b("n"), b("nv"), Duration.ofMinutes(5));
            int pia = batch.putIfAbsent(b("p"), b("x"), Duration.ofMinutes(5));
            int piaNew = batch.putIfAbsent(b("q"), b("qv"), Duration.ofMinutes(5));
            int swap = batch.swap(b("s"), b("new"), Duration.ofMinutes(5));
            int exp = batch.expire(b("e"), Duration.ofMinutes(1));
            int expMiss = batch.expire(b("absent"), Duration.ofMinutes(1));
            int ttlN = batch.ttl(b("n"));
            int ttlE = batch.ttl(b("e"));
            int ttlMiss = batch.ttl(b("absent"));
            int pers = batch.persist(b("p"));
            int ttlP = batch.ttl(b("p"));
            int plain = batch.put(b("plain"), b("v"));
            int ttlPlain = batch.ttl(b("plain"));
            // A bad duration is refused before the op is added.
            assertThrows(IllegalArgumentException.class, () -> batch.put(b("bad"), b("v"), Duration.ZERO));
            assertThrows(IllegalArgumentException.class, () -> batch.expire(b("bad"), Duration.ofMillis(-1)));
            assertEquals(13, batch.size());
            m.execute(batch);

            assertEquals(Status.OK, batch.status(put));
            assertEquals(Status.EXISTS, batch.status(pia));
            assertEquals(Status.OK, batch.status(piaNew));
            assertEquals("old", s(batch.value(swap)));
            assertEquals(Status.OK, batch.status(exp));
            assertEquals(Status.NOT_FOUND, batch.status(expMiss));
            long n = batch.ttlMillis(ttlN);
            assertTrue(n > 4 * 60_000 && n <= 5 * 60_000, "ttl " + n);
            long e = batch.ttlMillis(ttlE);
            assertTrue(e > 0 && e <= 60_000, "ttl after expire, same batch, same key: " + e);
            assertEquals(NumaShardMap.TTL_ABSENT, batch.ttlMillis(ttlMiss));
            assertEquals(Optional.empty(), batch.ttl(ttlMiss));
            assertEquals(Optional.of(NumaShardMap.NO_EXPIRY), batch.ttl(ttlP), "persisted earlier in the batch");
            assertEquals(NumaShardMap.TTL_NEVER, batch.ttlMillis(ttlPlain));
            assertEquals(Status.OK, batch.status(plain));
            assertThrows(IllegalStateException.class, () -> batch.ttlMillis(put), "not a ttl op");

            long q = m.ttlMillis(b("q"));
            assertTrue(q > 4 * 60_000 && q <= 5 * 60_000, "putIfAbsent stored its TTL: " + q);
            long sw = m.ttlMillis(b("s"));
            assertTrue(sw > 4 * 60_000 && sw <= 5 * 60_000, "swap stored its TTL: " + sw);

            // A swap whose previous value overflows its buffer is redone alone, keeping its TTL.
            byte[] big = TestSupport.value(3, 9, 3000);
            m.put(b("bigswap"), big);
            Batch small = new Batch(2, 8);
            int bs = small.swap(b("bigswap"), b("short"), Duration.ofMinutes(3));
            m.execute(small);
            assertArrayEquals(big, small.value(bs));
            long left = m.ttlMillis(b("bigswap"));
            assertTrue(left > 2 * 60_000 && left <= 3 * 60_000, "fallback kept the TTL: " + left);
            assertEquals("short", s(m.get(b("bigswap"))));
        }
    }

    @Test
    void typedViewTakesTimesToLive() {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardTypedMap<String, Long> t = m.typed(Codec.utf8(), Codec.int64());
            assertNull(t.put("a", 1L, HOUR));
            assertEquals(1L, t.put("a", 2L, Duration.ofMinutes(2)));
            Duration left = t.ttl("a").orElseThrow();
            assertTrue(left.compareTo(Duration.ofMinutes(2)) <= 0 && left.compareTo(Duration.ofMinutes(1)) > 0, left.toString());
            assertEquals(2L, t.putIfAbsent("a", 9L, HOUR));
            assertNull(t.putIfAbsent("b", 3L, HOUR));
            assertEquals(3L, t.get("b"));
            assertTrue(t.persist("b"));
            assertEquals(Optional.of(NumaShardMap.NO_EXPIRY), t.ttl("b"));
            assertTrue(t.expire("b", Duration.ZERO));
            assertNull(t.get("b"));
            assertFalse(t.expire("b", HOUR));
            assertEquals(Optional.empty(), t.ttl("b"));
            assertThrows(IllegalArgumentException.class, () -> t.put("a", 5L, Duration.ZERO));
            assertEquals(2L, t.get("a"), "a refused put changed nothing");
        }
    }

    @Test
    void errorsOfTheTtlCalls() {
        NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).maxKeyLen(8).build());
        byte[] big = new byte[9];
        List<Executable> tooLarge = List.of(
                () -> m.put(big, b("v"), HOUR),
                () -> m.putIfAbsent(big, b("v"), HOUR),
                () -> m.swap(big, b("v"), HOUR),
                () -> m.getOrPut(big, b("v"), HOUR),
                () -> m.expire(big, HOUR),
                () -> m.persist(big),
                () -> m.ttl(big),
                () -> m.ttlMillis(big));
        for (Executable c : tooLarge) {
            assertThrows(KeyTooLargeException.class, c);
        }
        assertEquals(0, m.size());
        m.put(b("k"), b("v"));
        m.close();
        List<Executable> afterClose = List.of(
                () -> m.put(b("k"), b("v"), HOUR),
                () -> m.putIfAbsent(b("k"), b("v"), HOUR),
                () -> m.swap(b("k"), b("v"), HOUR),
                () -> m.getOrPut(b("k"), b("v"), HOUR),
                () -> m.expire(b("k"), HOUR),
                () -> m.persist(b("k")),
                () -> m.ttl(b("k")),
                () -> m.ttlMillis(b("k")));
        for (Executable c : afterClose) {
            assertThrows(MapClosedException.class, c);
        }
    }
}
