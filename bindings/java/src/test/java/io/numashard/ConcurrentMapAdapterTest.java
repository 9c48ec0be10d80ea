package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The ConcurrentMap view: content-compared keys, values and views, atomic put/replace/remove(key, value). */
class ConcurrentMapAdapterTest {

    static Set<String> strings(Iterable<byte[]> arrays) {
        Set<String> out = new HashSet<>();
        for (byte[] a : arrays) {
            out.add(s(a));
        }
        return out;
    }

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
            assertEquals(cm, new NumaShardConcurrentMap(m), "two views of one map: same mappings");
            assertEquals("{}", cm.toString());
        }
    }

    /** The reproduction and every other view method that used to compare arrays by identity. */
    @Test
    void collectionViewsCompareByContent() {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardConcurrentMap cm = m.asConcurrentMap();
            cm.put(b("a"), b("1"));
            assertTrue(cm.keySet().remove(b("a")), "keySet().remove with another array of the same content");
            assertFalse(cm.containsKey(b("a")));
            assertFalse(cm.keySet().remove(b("a")), "already gone");

            for (String k : List.of("a", "b", "c", "d", "e")) {
                cm.put(b(k), b("v" + k));
            }
            assertTrue(cm.keySet().contains(b("b")));
            assertFalse(cm.keySet().contains("b"), "not a byte[]");
            assertTrue(cm.keySet().removeAll(List.of(b("b"), b("zz"))), "a collection smaller than the map");
            assertFalse(cm.containsKey(b("b")));
            assertFalse(cm.keySet().removeAll(List.of(b("zz"))));

            assertTrue(cm.values().contains(b("vc")));
            assertTrue(cm.values().remove(b("vc")));
            assertFalse(cm.containsKey(b("c")));
            assertFalse(cm.values().remove(b("vc")));

            assertTrue(cm.entrySet().contains(Map.entry(b("d"), b("vd"))));
            assertFalse(cm.entrySet().contains(Map.entry(b("d"), b("other"))));
            assertFalse(cm.entrySet().remove(Map.entry(b("d"), b("other"))), "value differs: kept");
            assertTrue(cm.entrySet().remove(Map.entry(b("d"), b("vd"))));
            assertFalse(cm.containsKey(b("d")));
            assertEquals(Set.of("a", "e"), strings(cm.keySet()));

            cm.put(b("f"), b("vf"));
            cm.put(b("g"), b("vg"));
            assertTrue(cm.keySet().retainAll(List.of(b("a"), b("f"), b("g"))), "retain by content");
            assertEquals(Set.of("a", "f", "g"), strings(cm.keySet()));
            assertTrue(cm.values().retainAll(List.of(b("va"), b("vf"))));
            assertEquals(Set.of("a", "f"), strings(cm.keySet()));
            assertTrue(cm.values().removeAll(List.of(b("va"))));
            assertEquals(Set.of("f"), strings(cm.keySet()));
            cm.put(b("h"), b("vh"));
            assertTrue(cm.entrySet().retainAll(List.of(Map.entry(b("h"), b("vh")), Map.entry(b("f"), b("nope")))));
            assertEquals(Set.of("h"), strings(cm.keySet()));
            assertTrue(cm.entrySet().removeAll(List.of(Map.entry(b("h"), b("vh")))));
            assertTrue(cm.isEmpty());

            // Iterator.remove on each view.
            cm.put(b("x"), b("1"));
            cm.put(b("y"), b("2"));
            Iterator<byte[]> ki = cm.keySet().iterator();
            byte[] first = ki.next();
            ki.remove();
            assertThrows(IllegalStateException.class, ki::remove);
            assertFalse(cm.containsKey(first));
            Iterator<byte[]> vi = cm.values().iterator();
            vi.next();
            vi.remove();
            assertFalse(vi.hasNext());
            assertTrue(cm.isEmpty());

            // Entry.setValue writes through and returns the entry's previous value.
            cm.put(b("s"), b("old"));
            Map.Entry<byte[], byte[]> e = cm.entrySet().iterator().next();
            assertEquals("old", s(e.setValue(b("new"))));
            assertEquals("new", s(cm.get(b("s"))));
            assertEquals("new", s(e.getValue()));
            assertTrue(e.equals(Map.entry(b("s"), b("new"))), "entries compare by content");
            assertEquals(Arrays.hashCode(b("s")) ^ Arrays.hashCode(b("new")), e.hashCode());

            // Map equality and hash code by content.
            try (NumaShardMap m2 = TestSupport.open(1)) {
                NumaShardConcurrentMap other = m2.asConcurrentMap();
                other.put(b("s"), b("new"));
                assertEquals(cm, other);
                assertEquals(cm.hashCode(), other.hashCode());
                assertEquals(cm.keySet(), other.keySet());
                assertEquals(cm.entrySet(), other.entrySet());
                other.put(b("s"), b("newer"));
                assertNotEquals(cm, other);
                assertNotEquals(cm.entrySet(), other.entrySet());
            }
            assertEquals("{[115]=[110, 101, 119]}", cm.toString());
        }
    }

    @Test
    void computeAndMergeFollowTheMapContract() {
        try (NumaShardMap m = TestSupport.open(2)) {
            NumaShardConcurrentMap cm = m.asConcurrentMap();
            assertNull(cm.compute(b("k"), (k, v) -> null), "absent and null: nothing stored");
            assertFalse(cm.containsKey(b("k")));
            assertEquals("1", s(cm.compute(b("k"), (k, v) -> v == null ? b("1") : b("x"))));
            assertEquals("12", s(cm.compute(b("k"), (k, v) -> b(s(v) + "2"))));
            assertNull(cm.compute(b("k"), (k, v) -> null), "a null result removes");
            assertFalse(cm.containsKey(b("k")));
            assertNull(cm.computeIfPresent(b("k"), (k, v) -> b("never")));
            assertFalse(cm.containsKey(b("k")));
            assertNull(cm.computeIfAbsent(b("k"), k -> null), "null: nothing stored");
            assertFalse(cm.containsKey(b("k")));
            assertEquals("a", s(cm.merge(b("k"), b("a"), (x, y) -> b("never"))));
            assertEquals("ab", s(cm.merge(b("k"), b("b"), (x, y) -> b(s(x) + s(y)))));
            assertNull(cm.merge(b("k"), b("c"), (x, y) -> null), "merge to null removes");
            assertFalse(cm.containsKey(b("k")));
            cm.put(b("r1"), b("1"));
            cm.put(b("r2"), b("2"));
            cm.replaceAll((k, v) -> b(s(k) + "=" + s(v)));
            assertEquals("r1=1", s(cm.get(b("r1"))));
            assertEquals("r2=2", s(cm.get(b("r2"))));
            assertThrows(NullPointerException.class, () -> cm.replaceAll((k, v) -> null));
            assertThrows(NullPointerException.class, () -> cm.get(null));
            assertThrows(NullPointerException.class, () -> cm.put(b("n"), null));
            assertThrows(NullPointerException.class, () -> cm.compute(b("n"), null));
            assertFalse(cm.containsKey(b("n")));
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
