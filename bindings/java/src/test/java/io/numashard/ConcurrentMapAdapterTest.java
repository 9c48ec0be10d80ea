package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The ConcurrentMap view: content-compared keys, atomic put/replace/remove(key, value). */
class ConcurrentMapAdapterTest {

    @Test
    void behavesLikeAContentKeyedConcurrentMap() {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardConcurrentMap cm = new NumaShardConcurrentMap(m);
            assertNull(cm.put(b("k"), b("1")));
            assertEquals("1", s(cm.put(b("k"), b("2"))));
            assertEquals("2", s(cm.get(b("k"))), "a different array with the same content");
            assertNull(cm.get("k"), "non-byte[] keys are absent");
            assertTrue(cm.containsKey(b("k")));
            assertFalse(cm.containsKey("k"));
            assertEquals("2", s(cm.putIfAbsent(b("k"), b("3"))));
            assertNull(cm.putIfAbsent(b("j"), b("9")));
            assertTrue(cm.replace(b("k"), b("2"), b("4")));
            assertFalse(cm.replace(b("k"), b("2"), b("5")));
            assertEquals("4", s(cm.replace(b("k"), b("6"))));
            assertNull(cm.replace(b("absent"), b("x")));
            assertEquals(2, cm.size());
            assertTrue(cm.containsValue(b("6")));
            assertFalse(cm.containsValue(b("nope")));
            assertTrue(cm.entrySet().contains(Map.entry(b("k"), b("6"))));
            int n = 0;
            for (Map.Entry<byte[], byte[]> e : cm.entrySet()) {
                n++;
                assertTrue(s(e.getKey()).equals("k") || s(e.getKey()).equals("j"));
            }
            assertEquals(2, n);
            Iterator<Map.Entry<byte[], byte[]>> it = cm.entrySet().iterator();
            assertThrows(IllegalStateException.class, it::remove);
            while (!s(it.next().getKey()).equals("k")) {
                // find "k"
            }
            it.remove();
            assertEquals(1, cm.size());
            assertNull(cm.get(b("k")));
            assertFalse(cm.remove(b("j"), b("8")), "value differs: kept");
            assertFalse(cm.remove("j", b("9")), "non-byte[] key");
            assertEquals("9", s(cm.computeIfAbsent(b("j"), k -> b("never"))));
            assertEquals("90", s(cm.merge(b("j"), b("0"), (a, c) -> b(s(a) + s(c)))));
            assertEquals("90", s(cm.get(b("j"))));
            assertNull(cm.computeIfPresent(b("j"), (k, v) -> null), "a null result removes");
            assertFalse(cm.containsKey(b("j")));
            cm.put(b("j"), b("9"));
            assertTrue(cm.remove(b("j"), b("9")), "same content, other array");
            assertTrue(cm.isEmpty());
            cm.put(b("x"), b("y"));
            cm.clear();
            assertTrue(cm.isEmpty());
            assertNotEquals(cm, new NumaShardConcurrentMap(m), "identity equality");
            assertTrue(cm.toString().contains("size=0"));
        }
    }

    @Test
    void concurrentPutReturnsEveryPreviousValueOnce() throws Exception {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardConcurrentMap cm = new NumaShardConcurrentMap(m);
            int threads = 4;
            int per = TestSupport.scaled(2000);
            AtomicLong returned = new AtomicLong();
            ConcurrencyTest.runThreads(threads, t -> {
                for (int i = 0; i < per; i++) {
                    byte[] prev = cm.put(b("hot"), NumaShardMap.counterBytes(t * 1_000_000L + i));
                    if (prev != null) {
                        returned.incrementAndGet();
                    }
                }
            });
            // Every put but the very first saw (and returned) exactly one previous value.
            assertEquals((long) threads * per - 1, returned.get());
        }
    }

    @Test
    void concurrentConditionalRemoveTakesEachValueOnce() throws Exception {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardConcurrentMap cm = new NumaShardConcurrentMap(m);
            int rounds = TestSupport.scaled(2000);
            AtomicLong removed = new AtomicLong();
            ConcurrencyTest.runThreads(4, t -> {
                for (int i = 0; i < rounds; i++) {
                    byte[] v = NumaShardMap.counterBytes(i);
                    cm.putIfAbsent(b("k" + i), v);
                    if (cm.remove(b("k" + i), v)) {
                        removed.incrementAndGet();
                    }
                }
            });
            // Each key held one value at a time; four threads raced to remove it, one won per insertion.
            assertTrue(cm.isEmpty());
            assertTrue(removed.get() >= rounds && removed.get() <= 4L * rounds, "removed " + removed.get());
        }
    }
}
