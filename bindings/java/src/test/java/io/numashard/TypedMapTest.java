package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.scaled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.Test;

/** The typed map over codecs: every built-in codec, a user codec, errors, many threads, close races. */
class TypedMapTest {

    /** A user type with its own codec (8 + 8 bytes), as one would write over Kryo or protobuf. */
    record Point(long x, long y) {
        static final Codec<Point> CODEC = Codec.of(Point.class,
                p -> ByteBuffer.allocate(16).putLong(p.x).putLong(p.y).array(),
                bytes -> {
                    if (bytes.length != 16) {
                        throw new IllegalArgumentException("a Point is 16 bytes");
                    }
                    ByteBuffer bb = ByteBuffer.wrap(bytes);
                    return new Point(bb.getLong(), bb.getLong());
                });
    }

    @Test
    void builtInCodecsRoundTripAndShareTheEngineLayout() {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardTypedMap<String, Long> counters = m.typed(Codec.utf8(), Codec.int64());
            assertEquals(5L, m.add(b("hits"), 5), "the engine's counter");
            assertEquals(5L, counters.get("hits"), "int64 is the counter layout");
            assertEquals(7L, counters.merge("hits", 2L, Long::sum));
            assertEquals(8L, m.add(b("hits"), 1));
            assertEquals(Long.MIN_VALUE, counters.merge("min", Long.MIN_VALUE, Long::sum));

            String unicode = "clé-ключ-鍵-\uD83D\uDD11";
            NumaShardTypedMap<String, Integer> ints = m.typed(Codec.utf8(), Codec.int32());
            assertNull(ints.put(unicode, -42));
            assertEquals(-42, ints.get(unicode));
            assertArrayEquals(new byte[] {(byte) 0xd6, (byte) 0xff, (byte) 0xff, (byte) 0xff},
                    m.get(unicode.getBytes(StandardCharsets.UTF_8)), "UTF-8 key, little-endian int");

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ints.put("lone \uD800 surrogate", 1));
            assertTrue(e.getMessage().contains("surrogate"));
            assertThrows(IllegalArgumentException.class, () -> ints.put("\uDC00?", 1));
            assertNull(ints.get("lone ? surrogate"), "nothing stored under the '?' form");
            assertEquals(1, ints.put("a?b", 1) == null ? 1 : 0, "a real '?' is fine");

            assertThrows(IllegalArgumentException.class, () -> ints.get("hits"), "8 bytes are not an Integer");

            NumaShardTypedMap<ByteBuffer, ByteBuffer> bufs = m.typed(Codec.byteBuffer(), Codec.byteBuffer());
            ByteBuffer key = ByteBuffer.allocateDirect(16).put(b("xxbufkey")).flip();
            key.position(2);
            bufs.put(key, ByteBuffer.wrap(b("value")));
            assertEquals(2, key.position(), "the key's position is not moved");
            assertEquals(ByteBuffer.wrap(b("value")), bufs.get(ByteBuffer.wrap(b("bufkey"))));
            assertTrue(bufs.remove(ByteBuffer.wrap(b("bufkey")), ByteBuffer.wrap(b("value"))));

            NumaShardTypedMap<Point, String> points = m.typed(Point.CODEC, Codec.utf8());
            points.put(new Point(1, 2), "p12");
            assertEquals("p12", points.get(new Point(1, 2)));
            assertNull(points.get(new Point(2, 1)));
            assertTrue(points.containsKey(new Point(1, 2)));
            assertFalse(points.containsKey("not a point"), "other types are absent, not encoded");
            assertNull(points.get(42L));
            assertFalse(points.remove("x", "p12"));
        }
    }

    @Test
    void equalsAndHashCodeFollowTheMapContract() {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardTypedMap<String, Long> typed = m.typed(Codec.utf8(), Codec.int64());
            Map<String, Long> expected = new HashMap<>();
            for (int i = 0; i < 100; i++) {
                typed.put("k" + i, (long) i * i);
                expected.put("k" + i, (long) i * i);
            }
            assertEquals(expected, typed);
            assertEquals(typed, expected);
            assertEquals(expected.hashCode(), typed.hashCode());
            assertEquals(expected.keySet(), typed.keySet());
            assertEquals(expected.keySet().hashCode(), typed.keySet().hashCode());
            assertEquals(expected.entrySet(), typed.entrySet());
            assertEquals(expected.entrySet().hashCode(), typed.entrySet().hashCode());
            assertEquals(new HashMap<>(typed), expected, "copied out through the entry set");
            expected.put("k0", 1L);
            assertFalse(typed.equals(expected));
            assertFalse(typed.equals(Map.of()));
            assertFalse(typed.equals("not a map"));
        }
    }

    @Test
    void decodingForeignBytesFailsClearlyAndChangesNothing() {
        try (NumaShardMap m = TestSupport.open(1)) {
            m.put(b("k"), b("abc"));
            NumaShardTypedMap<String, Long> typed = m.typed(Codec.utf8(), Codec.int64());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> typed.get("k"));
            assertTrue(e.getMessage().contains("8 bytes"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> typed.merge("k", 1L, Long::sum));
            assertArrayEquals(b("abc"), m.get(b("k")), "unchanged");
            assertThrows(NullPointerException.class, () -> typed.put(null, 1L));
            assertThrows(NullPointerException.class, () -> typed.put("k", null));
            assertThrows(NullPointerException.class, () -> typed.containsKey(null));
            assertThrows(NullPointerException.class, () -> typed.containsValue(null));
            assertThrows(NullPointerException.class, () -> typed.replace("k", null, 1L));
            assertFalse(typed.remove("k", null));
            assertThrows(NullPointerException.class, () -> Codec.of(null, x -> x, x -> x));
            Codec<String> nullEncoder = Codec.of(String.class, s -> null, bytes -> "x");
            assertThrows(NullPointerException.class, () -> m.typed(nullEncoder, Codec.utf8()).put("a", "b"));
            assertEquals(1, m.size());
        }
    }

    @Test
    void typedCallsOnAClosedMapThrowMapClosed() {
        NumaShardMap m = TestSupport.open(1);
        NumaShardTypedMap<String, String> typed = m.typed(Codec.utf8(), Codec.utf8());
        typed.put("a", "b");
        m.close();
        assertThrows(MapClosedException.class, () -> typed.get("a"));
        assertThrows(MapClosedException.class, () -> typed.put("a", "c"));
        assertThrows(MapClosedException.class, () -> typed.compute("a", (k, v) -> "d"));
        assertThrows(MapClosedException.class, () -> typed.keySet().iterator().hasNext());
        assertThrows(MapClosedException.class, typed::size);
    }

    /** merge and compute under contention: no update is lost, whatever the number of retries. */
    @Test
    void mergeAndComputeAreAtomicUnderContention() throws Exception {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardTypedMap<String, Long> typed = m.typed(Codec.utf8(), Codec.int64());
            int threads = 4;
            int per = scaled(3000);
            AtomicLong calls = new AtomicLong();
            ConcurrencyTest.runThreads(threads, t -> {
                for (int i = 0; i < per; i++) {
                    typed.merge("merged", 1L, (a, c) -> {
                        calls.incrementAndGet();
                        return a + c;
                    });
                    typed.compute("computed", (k, v) -> v == null ? 1L : v + 1);
                    typed.computeIfPresent("merged", (k, v) -> v + 1);
                    // Toggle a key: compute removes (null) or inserts; every toggle is applied once.
                    typed.compute("toggle" + (i % 4), (k, v) -> v == null ? 1L : null);
                }
            });
            long total = (long) threads * per;
            assertEquals(2 * total, typed.get("merged"), "merge + computeIfPresent, none lost");
            assertEquals(total, typed.get("computed"));
            assertTrue(calls.get() >= total - 1, "the function ran at least once per applied merge");
            // Each toggle key was flipped (threads * per / 4) times: an even count leaves it absent.
            for (int k = 0; k < 4; k++) {
                long flips = (long) threads * (per / 4 + (k < per % 4 ? 1 : 0));
                assertEquals(flips % 2 == 1, typed.containsKey("toggle" + k), "toggle" + k);
            }
        }
    }

    /** computeIfAbsent: each caller's function runs at most once, and all callers see one value. */
    @Test
    void computeIfAbsentRunsTheFunctionAtMostOncePerCall() throws Exception {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardTypedMap<String, String> typed = m.typed(Codec.utf8(), Codec.utf8());
            int keys = scaled(2000);
            int threads = 4;
            AtomicReferenceArray<String> seen = new AtomicReferenceArray<>(keys);
            ConcurrentMap<String, AtomicLong> runs = new ConcurrentHashMap<>();
            ConcurrencyTest.runThreads(threads, t -> {
                for (int i = 0; i < keys; i++) {
                    int[] runsThisCall = {0};
                    String v = typed.computeIfAbsent("k" + i, k -> {
                        runsThisCall[0]++;
                        runs.computeIfAbsent(k, x -> new AtomicLong()).incrementAndGet();
                        return "t" + t;
                    });
                    assertTrue(runsThisCall[0] <= 1, "ran " + runsThisCall[0] + " times in one call");
                    if (!seen.compareAndSet(i, null, v)) {
                        assertEquals(seen.get(i), v, "every caller returns the one stored value");
                    }
                }
            });
            for (int i = 0; i < keys; i++) {
                assertEquals(seen.get(i), typed.get("k" + i));
                assertTrue(runs.get("k" + i).get() <= threads);
            }
        }
    }

    /** Typed calls racing close: each completes or throws MapClosedException, nothing else. */
    @Test
    void typedCallsRacingClose() throws Exception {
        for (int rep = 0; rep < scaled(6); rep++) {
            NumaShardMap m = TestSupport.open(2);
            NumaShardTypedMap<String, Long> typed = m.typed(Codec.utf8(), Codec.int64());
            for (int i = 0; i < 500; i++) {
                typed.put("k" + i, (long) i);
            }
            AtomicLong closedSeen = new AtomicLong();
            int callers = 4;
            ConcurrencyTest.runThreads(callers + 1, t -> {
                if (t == callers) {
                    Thread.sleep(20);
                    m.close();
                    return;
                }
                int i = 0;
                while (true) {
                    try {
                        String k = "k" + (i++ % 500);
                        switch (i % 6) {
                            case 0 -> typed.merge(k, 1L, Long::sum);
                            case 1 -> typed.compute(k, (x, v) -> v == null ? 0L : v + 1);
                            case 2 -> typed.get(k);
                            case 3 -> typed.keySet().removeAll(java.util.List.of(k));
                            case 4 -> typed.containsValue(3L);
                            default -> typed.entrySet().iterator().next().setValue(9L);
                        }
                    } catch (MapClosedException e) {
                        closedSeen.incrementAndGet();
                        break;
                    } catch (java.util.NoSuchElementException e) {
                        // the map was emptied by the other callers: keep going
                    }
                }
            });
            assertEquals(callers, closedSeen.get(), "every caller ended with MapClosedException");
        }
    }
}
