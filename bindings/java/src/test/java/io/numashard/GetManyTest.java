package io.numashard;

import static io.numashard.TestSupport.b;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A batch of only gets runs through {@code ns_get_many} on both backends (the process's, FFM on
 * the JDK 22+ jar runs, and JNI) and answers exactly as the same batch run as {@code ns_op}
 * records and as single gets: hits, misses, empty values, values larger than the slot, oversized
 * keys, a closed map, and writers racing the batch.
 */
class GetManyTest {
    private static final Backend[] BACKENDS = {NumaShardMap.BACKEND, JniBackend.INSTANCE};
    private static final int MAX_KEY = 64;

    /** Everything a caller can read about operation {@code i}, exceptions included. */
    private static String read(Batch b, int i) {
        StringBuilder s = new StringBuilder();
        s.append(b.status(i)).append('/').append(b.statusCode(i)).append('/').append(b.valueLength(i)).append('/');
        try {
            byte[] v = b.value(i);
            ByteBuffer view = b.valueBuffer(i);
            if (v == null || view == null) {
                s.append(v == null && view == null ? "null" : "null on one side only");
            } else {
                byte[] viewed = new byte[view.remaining()];
                view.get(viewed);
                s.append(Arrays.equals(v, viewed) ? Arrays.toString(v) : "value and view differ");
            }
        } catch (NumaShardException e) {
            s.append(e.getClass().getSimpleName()).append(':').append(e.status());
        }
        return s.toString();
    }

    /** What a single get answers, in {@link #read}'s form. */
    private static String single(NumaShardMap m, byte[] key) {
        try {
            byte[] v = m.get(key);
            return v == null ? Status.NOT_FOUND + "/1/-1/null"
                    : Status.OK + "/0/" + v.length + "/" + Arrays.toString(v);
        } catch (NumaShardException e) {
            return e.status() + "/" + e.code() + "/-1/" + e.getClass().getSimpleName() + ":" + e.status();
        }
    }

    @Test
    void answersAsOpRecordsAndSingleGetsOnBothBackends() {
        Random r = new Random(7);
        List<byte[]> keys = new ArrayList<>();
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(4).maxKeyLen(MAX_KEY).build())) {
            int stride = 32;
            // Hits of every size around the slot, an empty value, a value much larger than the slot.
            for (int len : new int[] {0, 1, 8, stride - 1, stride, stride + 1, 100, 10_000, 70_000}) {
                byte[] k = TestSupport.randomBytes(r, 1 + r.nextInt(MAX_KEY));
                m.put(k, TestSupport.randomBytes(r, len));
                keys.add(k);
            }
            m.put(new byte[0], b("empty key")); // the empty key, present
            keys.add(new byte[0]);
            keys.add(b("missing"));
            keys.add(TestSupport.randomBytes(r, MAX_KEY + 1)); // oversized
            keys.add(TestSupport.randomBytes(r, 5000)); // oversized, larger than any scratch
            keys.add(keys.get(3)); // the same key twice
            for (int round = 0; round < 3; round++) {
                java.util.Collections.shuffle(keys, r);
                for (int cap : new int[] {stride, 0}) {
                    Batch many = new Batch(4, cap);
                    Batch records = new Batch(4, cap);
                    for (byte[] k : keys) {
                        many.get(k);
                        records.get(k);
                    }
                    for (Backend be : BACKENDS) {
                        m.execute(many, be, true);
                        assertTrue(many.ranAsGetMany(), "an all-get batch runs through ns_get_many on " + be.name());
                        m.execute(records, be, false);
                        assertFalse(records.ranAsGetMany());
                        for (int i = 0; i < keys.size(); i++) {
                            String want = single(m, keys.get(i));
                            assertEquals(want, read(records, i), "ns_batch, key " + i + ", " + be.name());
                            assertEquals(want, read(many, i), "ns_get_many, key " + i + ", cap " + cap + ", "
                                    + be.name());
                        }
                    }
                }
            }
        }
    }

    @Test
    void otherKindsOrCapacitiesRunAsOpRecords() {
        try (NumaShardMap m = TestSupport.open(2)) {
            m.put(b("a"), b("alpha"));
            Batch b = new Batch();
            b.get(b("a"));
            b.get(b("a"), 4); // a second capacity: ns_batch, the value still complete
            m.execute(b);
            assertFalse(b.ranAsGetMany());
            assertEquals("alpha", TestSupport.s(b.value(1)));
            b.clear();
            b.get(b("a"));
            b.put(b("c"), b("gamma"));
            m.execute(b);
            assertFalse(b.ranAsGetMany());
            assertEquals("alpha", TestSupport.s(b.value(0)));
            assertThrows(IllegalStateException.class, () -> b.value(1), "a put reads no value");
            b.get(b("c")); // executed: adding starts a new batch, all gets again
            m.execute(b);
            assertTrue(b.ranAsGetMany());
            assertEquals(1, b.size());
            assertEquals("gamma", TestSupport.s(b.value(0)));
            assertEquals(0, b.counter(0), "a found get's counter, as ns_batch reports it");
            assertThrows(IllegalStateException.class, () -> b.ttlMillis(0));
        }
    }

    @Test
    void aClosedMapThrowsOnBothBackends() {
        NumaShardMap m = TestSupport.open(2);
        m.put(b("k"), b("v"));
        m.close();
        for (Backend be : BACKENDS) {
            for (boolean getMany : new boolean[] {true, false}) {
                Batch b = new Batch();
                b.get(b("k"));
                b.get(b("other"));
                assertThrows(MapClosedException.class, () -> m.execute(b, be, getMany), be.name());
                assertThrows(IllegalStateException.class, () -> b.status(0), "no results after a failed call");
            }
        }
    }

    @Test
    void largeBatchesGrowTheBufferAndStayExact() {
        try (NumaShardMap m = TestSupport.open(4)) {
            int n = 5000; // above FfmBackend.CRITICAL_BATCH: the plain downcall
            Batch b = new Batch(16, 16);
            for (int i = 0; i < n; i++) {
                if (i % 3 != 0) {
                    m.put(b("key-" + i), TestSupport.value(i, i, 8 + i % 40));
                }
                b.get(b("key-" + i));
            }
            for (Backend be : BACKENDS) {
                m.execute(b, be, true);
                assertTrue(b.ranAsGetMany());
                for (int i = 0; i < n; i++) {
                    byte[] v = b.value(i);
                    if (i % 3 == 0) {
                        assertEquals(null, v, "key " + i);
                    } else {
                        TestSupport.checkValue(i, v, 8 + i % 40);
                    }
                }
            }
        }
    }

    /** Value lengths alternate around the slot, so racing reads take both the slot and the re-read. */
    private static int lengthOf(long version) {
        return version % 3 == 0 ? 300 : 12 + (int) (version % 40);
    }

    @Test
    void batchesRacingWritersSeeWholeValues() throws Exception {
        int keys = 256;
        try (NumaShardMap m = TestSupport.open(4)) {
            byte[][] names = new byte[keys][];
            for (int k = 0; k < keys; k++) {
                names[k] = b("race-" + k);
                m.put(names[k], TestSupport.value(k, 0, lengthOf(0)));
            }
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread writer = new Thread(() -> {
                Random r = new Random(11);
                long version = 1;
                try {
                    while (!stop.get()) {
                        int k = r.nextInt(keys);
                        if (r.nextInt(16) == 0) {
                            m.remove(names[k]);
                        } else {
                            m.put(names[k], TestSupport.value(k, version, lengthOf(version)));
                        }
                        version++;
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            }, "get-many-writer");
            writer.start();
            long checked = 0;
            long absent = 0;
            try {
                Random r = new Random(12);
                Batch b = new Batch(64, 32);
                int[] asked = new int[64];
                long deadline = System.nanoTime() + (long) (800_000_000L * TestSupport.SCALE);
                for (int round = 0; System.nanoTime() < deadline || round < 20; round++) {
                    Backend be = BACKENDS[round & 1];
                    for (int j = 0; j < 64; j++) {
                        asked[j] = r.nextInt(keys);
                        b.get(names[asked[j]]);
                    }
                    m.execute(b, be, true);
                    assertTrue(b.ranAsGetMany());
                    for (int j = 0; j < 64; j++) {
                        byte[] v = b.value(j);
                        if (v == null) {
                            absent++;
                            continue;
                        }
                        TestSupport.checkValue(asked[j], v, lengthOf(TestSupport.versionOf(v)));
                        checked++;
                    }
                }
            } finally {
                stop.set(true);
                writer.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("writer failed", failure.get());
            }
            assertTrue(checked > absent, "values were read: " + checked + " whole, " + absent + " absent");
        }
    }
}
