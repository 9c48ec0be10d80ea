package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Iteration and replaceAll, single-threaded. */
class IterationTest {

    @Test
    void forEachSeesEveryEntryOnce() {
        try (NumaShardMap m = TestSupport.open(4)) {
            int n = 20_000;
            for (int i = 0; i < n; i++) {
                m.put(b("k" + i), b("v" + i));
            }
            Map<String, String> seen = new HashMap<>();
            m.forEach((k, v) -> {
                if (seen.put(s(k), s(v)) != null) {
                    throw new AssertionError("duplicate " + s(k));
                }
            });
            assertEquals(n, seen.size());
            for (int i = 0; i < n; i++) {
                assertEquals("v" + i, seen.get("k" + i));
            }
            int[] count = {0};
            m.forEachBuffer((k, v) -> {
                assertTrue(k.isReadOnly());
                byte[] kb = new byte[k.remaining()];
                k.get(kb);
                byte[] vb = new byte[v.remaining()];
                v.get(vb);
                assertEquals("v" + s(kb).substring(1), s(vb));
                count[0]++;
            });
            assertEquals(n, count[0]);
        }
    }

    @Test
    void iteratorProtocolAndEarlyClose() {
        try (NumaShardMap m = TestSupport.open(2)) {
            try (EntryIterator it = m.iterator()) {
                assertFalse(it.hasNext());
                assertThrows(NoSuchElementException.class, it::next);
            }
            m.put(b("a"), b("1"));
            m.put(b("b"), b("2"));
            Set<String> keys = new HashSet<>();
            try (EntryIterator it = m.iterator()) {
                assertThrows(IllegalStateException.class, it::key);
                assertTrue(it.hasNext());
                assertTrue(it.hasNext(), "hasNext is idempotent");
                Map.Entry<byte[], byte[]> e = it.next();
                keys.add(s(e.getKey()));
                assertTrue(it.advance());
                keys.add(s(it.key()));
                assertFalse(it.hasNext());
            }
            assertEquals(Set.of("a", "b"), keys);
            EntryIterator it = m.iterator();
            assertTrue(it.advance());
            it.close();
            it.close();
        }
    }

    @Test
    void entriesLargerThanAChunk() {
        try (NumaShardMap m = TestSupport.open(2)) {
            byte[] big = new byte[200_000];
            new java.util.Random(5).nextBytes(big);
            m.put(b("big"), big);
            m.put(b("small"), b("s"));
            m.put(b("big2"), big);
            Map<String, byte[]> seen = new HashMap<>();
            m.forEach((k, v) -> seen.put(s(k), v));
            assertEquals(3, seen.size());
            assertArrayEquals(big, seen.get("big"));
            assertArrayEquals(big, seen.get("big2"));
        }
    }

    @Test
    void iterationAfterCloseFails() {
        NumaShardMap m = TestSupport.open(2);
        for (int i = 0; i < 100_000; i++) {
            m.put(b("k" + i), b("v"));
        }
        EntryIterator it = m.iterator();
        assertTrue(it.advance());
        m.close();
        assertThrows(MapClosedException.class, () -> {
            while (it.advance()) {
                // the chunk fetched before close may still be delivered
            }
        });
        it.close();
    }

    @Test
    void iteratorOutlivesAnUnreachableMap() throws Exception {
        EntryIterator it;
        {
            NumaShardMap m = TestSupport.open(2);
            for (int i = 0; i < 10_000; i++) {
                m.put(b("k" + i), b("v"));
            }
            it = m.iterator();
            m.close();
        }
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(20);
        }
        // The map's handle may be freed by now (the C ABI allows iterators to outlive it).
        try {
            while (it.advance()) {
                // drain what was fetched
            }
        } catch (MapClosedException expected) {
            // fine
        }
        it.close();
    }

    @Test
    void replaceAllSwapsContents() {
        try (NumaShardMap m = TestSupport.open(4)) {
            for (int i = 0; i < 1000; i++) {
                m.put(b("old" + i), b("o"));
            }
            Map<byte[], byte[]> next = new LinkedHashMap<>();
            for (int i = 0; i < 500; i++) {
                next.put(b("new" + i), b("n" + i));
            }
            m.replaceAll(next);
            assertEquals(500, m.size());
            assertEquals("n7", s(m.get(b("new7"))));
            assertEquals(null, m.get(b("old7")));
            m.replaceAll(List.of(Map.entry(b("dup"), b("1")), Map.entry(b("dup"), b("2"))));
            assertEquals(1, m.size());
            assertEquals("2", s(m.get(b("dup"))), "later duplicates win");
            m.replaceAll(Map.of());
            assertEquals(0, m.size());
            assertEquals(3, m.stats().replaceCount());
        }
    }

    @Test
    void forEachBufferViewsAreDirectSlices() {
        try (NumaShardMap m = TestSupport.open(1)) {
            m.put(b("k"), b("value"));
            m.forEachBuffer((ByteBuffer k, ByteBuffer v) -> {
                assertTrue(v.isDirect());
                assertEquals(5, v.remaining());
            });
        }
    }
}
