package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.scaled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Many threads at once: exact counters, close races, iteration under churn, hot reloads. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConcurrencyTest {

    /** Runs {@code body(threadIndex)} on n threads started together; rethrows the first failure. */
    static void runThreads(int n, ThrowingIntConsumer body) throws InterruptedException {
        ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    body.accept(id);
                } catch (Throwable e) {
                    failures.add(e);
                }
            }, "worker-" + t);
            threads.add(th);
            th.start();
        }
        start.countDown();
        for (Thread th : threads) {
            th.join();
        }
        if (!failures.isEmpty()) {
            AssertionError err = new AssertionError(failures.size() + " thread(s) failed", failures.peek());
            failures.stream().skip(1).forEach(err::addSuppressed);
            throw err;
        }
    }

    interface ThrowingIntConsumer {
        void accept(int i) throws Exception;
    }

    @Test
    void manyThreadsOwnKeysAndShareReads() throws Exception {
        try (NumaShardMap m = TestSupport.open(4)) {
            int threads = 8;
            int ops = scaled(20_000);
            for (int i = 0; i < 100; i++) {
                m.put(b("shared" + i), b("s" + i));
            }
            runThreads(threads, t -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                Map<String, byte[]> mine = new HashMap<>();
                ByteBuffer dst = ByteBuffer.allocateDirect(64);
                Batch batch = new Batch(16, 32);
                for (int i = 0; i < ops; i++) {
                    String k = "t" + t + "-" + r.nextInt(200);
                    byte[] key = b(k);
                    switch (r.nextInt(8)) {
                        case 0, 1 -> {
                            byte[] v = TestSupport.value(t, i, 24);
                            m.put(key, v);
                            mine.put(k, v);
                        }
                        case 2 -> assertArrayEquals(mine.get(k), m.get(key));
                        case 3 -> assertArrayEquals(mine.remove(k), m.take(key));
                        case 4 -> {
                            byte[] cur = mine.get(k);
                            byte[] v = TestSupport.value(t, i, 24);
                            boolean swapped = m.compareAndSet(key, cur == null ? new byte[24] : cur, v);
                            assertEquals(cur != null, swapped);
                            if (swapped) {
                                mine.put(k, v);
                            }
                        }
                        case 5 -> {
                            dst.clear();
                            int n = m.get(key, dst);
                            byte[] cur = mine.get(k);
                            assertEquals(cur == null ? NumaShardMap.NOT_FOUND : cur.length, n);
                        }
                        case 6 -> {
                            int s = r.nextInt(100);
                            assertEquals("s" + s, TestSupport.s(m.get(b("shared" + s))));
                        }
                        default -> {
                            batch.clear();
                            String[] ks = new String[8];
                            for (int j = 0; j < 8; j++) {
                                ks[j] = "t" + t + "-" + r.nextInt(200);
                                batch.get(b(ks[j]));
                            }
                            m.execute(batch);
                            for (int j = 0; j < 8; j++) {
                                assertArrayEquals(mine.get(ks[j]), batch.value(j));
                            }
                        }
                    }
                }
                for (Map.Entry<String, byte[]> e : mine.entrySet()) {
                    assertArrayEquals(e.getValue(), m.get(b(e.getKey())));
                }
            });
        }
    }

    @Test
    void countersHaveExactSums() throws Exception {
        try (NumaShardMap m = TestSupport.open(4)) {
            int counters = 1000;
            int threads = 8;
            int rounds = scaled(20);
            runThreads(threads, t -> {
                long delta = t + 1;
                Batch batch = new Batch(counters, 0);
                for (int round = 0; round < rounds; round++) {
                    if ((round + t) % 2 == 0) {
                        for (int c = 0; c < counters; c++) {
                            m.add(b("ctr" + c), delta);
                        }
                    } else {
                        batch.clear();
                        for (int c = 0; c < counters; c++) {
                            batch.add(b("ctr" + c), delta);
                        }
                        m.execute(batch);
                        for (int c = 0; c < counters; c++) {
                            assertEquals(Status.OK, batch.status(c));
                        }
                    }
                }
            });
            long expected = (long) rounds * threads * (threads + 1) / 2;
            for (int c = 0; c < counters; c++) {
                assertEquals(expected, NumaShardMap.counterValue(m.get(b("ctr" + c))), "counter " + c);
            }
            assertEquals(counters, m.size());
        }
    }

    @Test
    void closeRacingCalls() throws Exception {
        for (int rep = 0; rep < scaled(8); rep++) {
            NumaShardMap m = TestSupport.open(2);
            for (int i = 0; i < 2000; i++) {
                m.put(b("k" + i), b("v" + i));
            }
            AtomicLong completed = new AtomicLong();
            AtomicLong closedSeen = new AtomicLong();
            int callers = 6;
            runThreads(callers + 2, t -> {
                if (t >= callers) {
                    Thread.sleep(15 + 5 * t);
                    m.close(); // two racing closes: both return once closed
                    assertTrue(m.isClosed());
                    return;
                }
                ThreadLocalRandom r = ThreadLocalRandom.current();
                Batch batch = new Batch(8, 16);
                ByteBuffer dst = ByteBuffer.allocateDirect(32);
                while (true) {
                    try {
                        byte[] key = b("k" + r.nextInt(2000));
                        switch (r.nextInt(13)) {
                            case 0 -> m.get(key);
                            case 9 -> m.put(key, b("t"), Duration.ofMillis(1 + r.nextInt(20)));
                            case 10 -> m.expire(key, Duration.ofMillis(r.nextInt(20)));
                            case 11 -> m.ttlMillis(key);
                            case 12 -> m.swap(key, b("s"), Duration.ofSeconds(1));
                            case 1 -> m.put(key, b("x"));
                            case 2 -> m.take(key);
                            case 3 -> m.add(b("ctr"), 1);
                            case 4 -> {
                                dst.clear();
                                m.get(key, dst);
                            }
                            case 5 -> {
                                batch.clear();
                                for (int j = 0; j < 8; j++) {
                                    batch.put(b("k" + r.nextInt(2000)), b("b"));
                                }
                                m.execute(batch);
                            }
                            case 6 -> m.forEach((k, v) -> {});
                            case 7 -> m.stats();
                            default -> m.size();
                        }
                        completed.incrementAndGet();
                    } catch (MapClosedException e) {
                        closedSeen.incrementAndGet();
                        break;
                    }
                }
            });
            assertEquals(callers, closedSeen.get(), "every caller ended with MapClosedException");
            assertThrows(MapClosedException.class, () -> m.get(b("k1")));
            m.close();
        }
    }

    @Test
    void unclosedMapsAreClosedAndFreedByTheCleaner() throws Exception {
        for (int i = 0; i < 10; i++) {
            NumaShardMap m = TestSupport.open(2);
            m.put(b("k"), new byte[1000]);
        }
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
        }
        try (NumaShardMap m = TestSupport.open(2)) {
            m.put(b("still"), b("works"));
            assertEquals("works", TestSupport.s(m.get(b("still"))));
        }
    }

    /**
     * One iterator pass at a time while churn threads insert, update and delete a disjoint key
     * range and overwrite the stable keys with new versions: every stable key is seen exactly
     * once per pass, no churn key twice, and no value is torn.
     */
    @Test
    void iterationUnderChurnIsExactlyOnce() throws Exception {
        int stable = scaled(20_000);
        int churnKeys = 5_000;
        int valueLen = 40;
        try (NumaShardMap m = TestSupport.open(4)) {
            for (int i = 0; i < stable; i++) {
                m.put(b("s" + i), TestSupport.value(i, 0, valueLen));
            }
            AtomicBoolean stop = new AtomicBoolean();
            int churners = 3;
            int passes = scaled(6);
            runThreads(churners + 1, t -> {
                if (t < churners) {
                    ThreadLocalRandom r = ThreadLocalRandom.current();
                    Batch batch = new Batch(32, 0);
                    long version = 1;
                    while (!stop.get()) {
                        int c = r.nextInt(churnKeys);
                        byte[] ck = b("c" + c);
                        switch (r.nextInt(5)) {
                            case 0 -> m.put(ck, TestSupport.value(1_000_000 + c, version++, valueLen));
                            case 1 -> m.remove(ck);
                            case 2 -> m.putIfAbsent(ck, TestSupport.value(1_000_000 + c, version++, valueLen));
                            case 3 -> {
                                int s = r.nextInt(stable);
                                m.put(b("s" + s), TestSupport.value(s, version++, valueLen));
                            }
                            default -> {
                                batch.clear();
                                for (int j = 0; j < 32; j++) {
                                    int cc = r.nextInt(churnKeys);
                                    if (j % 2 == 0) {
                                        batch.put(b("c" + cc), TestSupport.value(1_000_000 + cc, version++, valueLen));
                                    } else {
                                        batch.remove(b("c" + cc));
                                    }
                                }
                                m.execute(batch);
                            }
                        }
                    }
                    return;
                }
                try {
                    for (int pass = 0; pass < passes; pass++) {
                        boolean[] seenStable = new boolean[stable];
                        boolean[] seenChurn = new boolean[churnKeys];
                        int[] stableCount = {0};
                        m.forEach((k, v) -> {
                            String key = TestSupport.s(k);
                            int idx = Integer.parseInt(key.substring(1));
                            if (key.charAt(0) == 's') {
                                if (seenStable[idx]) {
                                    throw new AssertionError("stable key seen twice: " + key);
                                }
                                seenStable[idx] = true;
                                stableCount[0]++;
                                TestSupport.checkValue(idx, v, valueLen);
                            } else {
                                if (seenChurn[idx]) {
                                    throw new AssertionError("churn key seen twice: " + key);
                                }
                                seenChurn[idx] = true;
                                TestSupport.checkValue(1_000_000 + idx, v, valueLen);
                            }
                        });
                        assertEquals(stable, stableCount[0], "pass " + pass + ": every stable key once");
                    }
                } finally {
                    stop.set(true);
                }
            });
        }
    }

    /**
     * replaceAll 100 times (every key's value carries the generation) while readers check that
     * the generation they observe never goes backwards and values are never torn or mixed.
     */
    @Test
    void replaceAllGenerationsNeverGoBackwards() throws Exception {
        int keys = 2_000;
        int generations = scaled(100);
        int valueLen = 32;
        try (NumaShardMap m = TestSupport.open(4)) {
            m.replaceAll(generation(0, keys, valueLen));
            AtomicBoolean done = new AtomicBoolean();
            int readers = 4;
            AtomicLong reads = new AtomicLong();
            runThreads(readers + 1, t -> {
                if (t == readers) {
                    try {
                        for (int g = 1; g <= generations; g++) {
                            m.replaceAll(generation(g, keys, valueLen));
                        }
                    } finally {
                        done.set(true);
                    }
                    return;
                }
                ThreadLocalRandom r = ThreadLocalRandom.current();
                long last = 0;
                Batch batch = new Batch(16, valueLen);
                while (!done.get()) {
                    if (r.nextBoolean()) {
                        int k = r.nextInt(keys);
                        byte[] v = m.get(b("g" + k));
                        long g = TestSupport.checkValue(k, v, valueLen);
                        assertTrue(g >= last, "generation went back from " + last + " to " + g);
                        last = g;
                    } else {
                        batch.clear();
                        int[] ks = new int[16];
                        for (int j = 0; j < 16; j++) {
                            ks[j] = r.nextInt(keys);
                            batch.get(b("g" + ks[j]));
                        }
                        m.execute(batch);
                        long max = last;
                        for (int j = 0; j < 16; j++) {
                            long g = TestSupport.checkValue(ks[j], batch.value(j), valueLen);
                            assertTrue(g >= last, "batch: generation went back from " + last + " to " + g);
                            max = Math.max(max, g);
                        }
                        last = max;
                    }
                    reads.incrementAndGet();
                }
            });
            assertEquals(keys, m.size());
            assertEquals(generations, TestSupport.versionOf(m.get(b("g0"))));
            assertTrue(reads.get() > 0);
            assertTrue(m.stats().replaceCount() >= generations);
        }
    }

    private static Map<byte[], byte[]> generation(int g, int keys, int valueLen) {
        Map<byte[], byte[]> next = new HashMap<>();
        for (int k = 0; k < keys; k++) {
            next.put(b("g" + k), TestSupport.value(k, g, valueLen));
        }
        return next;
    }

    @Test
    void concurrentIteratorsAndClear() throws Exception {
        try (NumaShardMap m = TestSupport.open(2)) {
            AtomicBoolean stop = new AtomicBoolean();
            runThreads(3, t -> {
                if (t == 0) {
                    for (int round = 0; round < scaled(50); round++) {
                        for (int i = 0; i < 500; i++) {
                            m.put(b("k" + i), TestSupport.value(i, round, 16));
                        }
                        m.clear();
                    }
                    stop.set(true);
                    return;
                }
                while (!stop.get()) {
                    m.forEach((k, v) -> TestSupport.checkValue(Integer.parseInt(TestSupport.s(k).substring(1)), v, 16));
                }
            });
            assertNull(m.get(b("k1")));
        }
    }
}
