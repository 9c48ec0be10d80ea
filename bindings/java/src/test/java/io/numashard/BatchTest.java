package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every batch operation kind, result accessors, growth and reuse. */
class BatchTest {
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
    void everyKind() {
        map.put(b("g"), b("gv"));
        map.put(b("t"), b("tv"));
        map.put(b("d"), b("dv"));
        map.put(b("c"), b("old"));
        map.put(b("p"), b("present"));
        Batch batch = new Batch();
        int get = batch.get(b("g"));
        int miss = batch.get(b("nope"));
        int put = batch.put(b("new"), b("nv"));
        int pia = batch.putIfAbsent(b("p"), b("x"));
        int piaNew = batch.putIfAbsent(b("p2"), b("y"));
        int del = batch.remove(b("d"));
        int delMiss = batch.remove(b("nope"));
        int take = batch.take(b("t"));
        int cas = batch.compareAndSet(b("c"), b("old"), b("new"));
        int casBad = batch.compareAndSet(b("c"), b("wrong"), b("x"));
        int casMiss = batch.compareAndSet(b("nope"), b("a"), b("b"));
        int add1 = batch.add(b("ctr"), 5);
        int add2 = batch.add(b("ctr"), 7);
        assertEquals(13, batch.size());
        assertThrows(IllegalStateException.class, () -> batch.status(0));
        map.execute(batch);

        assertEquals(Status.OK, batch.status(get));
        assertEquals("gv", s(batch.value(get)));
        assertEquals(2, batch.valueLength(get));
        assertEquals("gv", s(bytes(batch.valueBuffer(get))));
        assertEquals(Status.NOT_FOUND, batch.status(miss));
        assertNull(batch.value(miss));
        assertNull(batch.valueBuffer(miss));
        assertEquals(NumaShardMap.NOT_FOUND, batch.valueLength(miss));
        assertEquals(Status.OK, batch.status(put));
        assertEquals(Status.EXISTS, batch.status(pia));
        assertEquals(Status.OK, batch.status(piaNew));
        assertEquals(Status.OK, batch.status(del));
        assertEquals(Status.NOT_FOUND, batch.status(delMiss));
        assertEquals("tv", s(batch.value(take)));
        assertEquals(Status.OK, batch.status(cas));
        assertEquals(Status.MISMATCH, batch.status(casBad));
        assertEquals(Status.NOT_FOUND, batch.status(casMiss));
        assertEquals(5, batch.counter(add1));
        assertEquals(12, batch.counter(add2), "same key: array order");
        assertEquals(0, batch.statusCode(get));

        assertEquals("nv", s(map.get(b("new"))));
        assertEquals("present", s(map.get(b("p"))));
        assertEquals("y", s(map.get(b("p2"))));
        assertNull(map.get(b("d")));
        assertNull(map.get(b("t")));
        assertEquals("new", s(map.get(b("c"))));
        assertEquals(12, map.add(b("ctr"), 0));
        assertThrows(IndexOutOfBoundsException.class, () -> batch.status(13));
        assertThrows(IllegalStateException.class, () -> batch.value(put), "a put has no value");
        assertThrows(IllegalStateException.class, () -> batch.valueBuffer(put));
    }

    private static byte[] bytes(ByteBuffer bb) {
        byte[] a = new byte[bb.remaining()];
        bb.get(a);
        return a;
    }

    @Test
    void growsAndKeepsPointersValid() {
        Batch batch = new Batch(1, 4);
        Random r = new Random(7);
        int n = 5000;
        byte[][] values = new byte[n][];
        for (int i = 0; i < n; i++) {
            values[i] = new byte[r.nextInt(100)];
            r.nextBytes(values[i]);
            batch.put(b("key-" + i), values[i]);
        }
        map.execute(batch);
        for (int i = 0; i < n; i++) {
            assertEquals(Status.OK, batch.status(i));
        }
        batch.clear();
        for (int i = 0; i < n; i++) {
            batch.get(b("key-" + i), 100);
        }
        map.execute(batch);
        for (int i = 0; i < n; i++) {
            assertArrayEquals(values[i], batch.value(i), "op " + i);
        }
        assertEquals(n, map.size());
    }

    @Test
    void valuesLargerThanTheirBufferAreCompleted() {
        byte[] big = new byte[10_000];
        new Random(3).nextBytes(big);
        map.put(b("big"), big);
        map.put(b("big2"), big);
        Batch batch = new Batch(4, 16);
        int g = batch.get(b("big"));
        int t = batch.take(b("big2"));
        int small = batch.get(b("missing"));
        map.execute(batch);
        assertEquals(Status.OK, batch.status(g));
        assertArrayEquals(big, batch.value(g));
        assertEquals(big.length, batch.valueLength(g));
        assertArrayEquals(big, bytes(batch.valueBuffer(g)));
        assertArrayEquals(big, batch.value(t));
        assertNull(map.get(b("big2")), "take completed: removed");
        assertNull(batch.value(small));
    }

    @Test
    void compareAndDelete() {
        map.put(b("a"), b("1"));
        map.put(b("b"), b("2"));
        Batch batch = new Batch(4, 8);
        int hit = batch.compareAndDelete(b("a"), b("1"));
        int mismatch = batch.compareAndDelete(b("b"), b("9"));
        int missing = batch.compareAndDelete(b("c"), b("1"));
        map.execute(batch);
        assertEquals(Status.OK, batch.status(hit));
        assertEquals(Status.MISMATCH, batch.status(mismatch));
        assertEquals(Status.NOT_FOUND, batch.status(missing));
        assertNull(map.get(b("a")));
        assertEquals("2", s(map.get(b("b"))));
        assertThrows(IllegalStateException.class, () -> batch.value(hit), "not a read");
    }

    @Test
    void swapReturnsThePreviousValueAndCompletesLargeOnes() {
        byte[] big = new byte[100];
        java.util.Arrays.fill(big, (byte) 'x');
        map.put(b("old"), big);
        Batch batch = new Batch(4, 8); // 8-byte result room: the 100-byte value does not fit
        int fresh = batch.swap(b("new"), b("n1"));
        int again = batch.swap(b("new"), b("n2"));
        int large = batch.swap(b("old"), b("small"));
        map.execute(batch);
        assertEquals(Status.NOT_FOUND, batch.status(fresh));
        assertNull(batch.value(fresh));
        assertEquals("n1", s(batch.value(again)));
        assertArrayEquals(big, batch.value(large), "completed after the batch");
        assertEquals("n2", s(map.get(b("new"))));
        assertEquals("small", s(map.get(b("old"))));
    }

    /** The documented contract: adders keep references, execute reads the arrays. */
    @Test
    void arraysAreReadWhenTheBatchExecutes() {
        Batch batch = new Batch(2, 8);
        byte[] key = b("k1");
        byte[] value = b("v1");
        int put = batch.put(key, value);
        key[1] = '2';
        value[1] = '2';
        map.execute(batch);
        assertEquals(Status.OK, batch.status(put));
        assertEquals("v2", s(map.get(b("k2"))));
        assertNull(map.get(b("k1")));
    }

    @Test
    void reuseAndReexecute() {
        Batch batch = new Batch();
        batch.add(b("n"), 1);
        map.execute(batch);
        map.execute(batch);
        map.execute(batch);
        assertEquals(3, batch.counter(0));
        batch.clear();
        assertEquals(0, batch.size());
        map.execute(batch); // empty: no-op
        batch.get(b("n"));
        map.execute(batch);
        assertEquals(3, NumaShardMap.counterValue(batch.value(0)));
        // adding after execute starts a new batch
        batch.get(b("n"));
        assertEquals(1, batch.size());
    }

    @Test
    void manyShardsInOneCall() {
        Batch batch = new Batch(64, 32);
        for (int round = 0; round < 20; round++) {
            batch.clear();
            for (int i = 0; i < 64; i++) {
                batch.put(b("r" + round + "-" + i), b("v" + i));
            }
            map.execute(batch);
        }
        assertEquals(20 * 64, map.size());
        assertThrows(IllegalArgumentException.class, () -> new Batch(0, 1));
    }
}
