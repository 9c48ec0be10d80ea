package io.numashard;

import static io.numashard.TestSupport.b;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The process's backend ({@link NumaShardMap#nativeBackend()}: FFM on the JDK 22+ runs of the
 * jar, JNI elsewhere) and the JNI backend give the same answer to the same call: a random
 * sequence of every per-key operation, with sizes around each backend's thresholds (the JNI
 * scratch: 1 KiB keys, 3 KiB results, 4 KiB key + value; FFM: 4 KiB results, 64 KiB arguments),
 * oversized keys and values, and every call after close, is run on two maps with the same
 * settings, one through each backend, and checked against a model map. On a JNI run the two
 * are the same code, and the test still checks them against the model.
 */
class BackendParityTest {
    private static final Backend ACTIVE = NumaShardMap.BACKEND;
    private static final Backend JNI = JniBackend.INSTANCE;

    /** What a call gave: a value, a boolean, a number, or an exception (class and status). */
    private static Object outcome(java.util.concurrent.Callable<Object> call) {
        try {
            Object r = call.call();
            return r instanceof byte[] a ? "bytes:" + Arrays.toString(a) : r;
        } catch (NumaShardException e) {
            return e.getClass().getSimpleName() + ":" + e.status();
        } catch (Exception e) {
            return e.getClass().getSimpleName();
        }
    }

    private static final int[] SIZES = {0, 1, 15, 1023, 1024, 1025, 3071, 3072, 3073, 4095, 4096, 4097, 65_000,
        65_536, 65_537, 70_000, 200_000};

    private static byte[] bytes(Random r, int len) {
        return TestSupport.randomBytes(r, len);
    }

    @Test
    void everyOperationAnswersAsTheJniBackendAndTheModel() {
        Config cfg = Config.builder().shards(2).maxKeyLen(80_000).maxValueLen(150_000).build();
        Random r = new Random(18);
        List<byte[]> keys = new ArrayList<>();
        for (int size : SIZES) {
            if (size > 0 && size <= 80_000) {
                keys.add(bytes(r, size));
            }
        }
        keys.add(new byte[0]);
        keys.add(bytes(r, 80_001)); // too large
        Map<String, byte[]> model = new HashMap<>();
        try (NumaShardMap a = NumaShardMap.open(cfg); NumaShardMap j = NumaShardMap.open(cfg)) {
            int ops = TestSupport.scaled(3000);
            for (int i = 0; i < ops; i++) {
                byte[] k = keys.get(r.nextInt(keys.size()));
                byte[] v = bytes(r, SIZES[r.nextInt(SIZES.length)]);
                int op = r.nextInt(14);
                Object x = apply(ACTIVE, a, op, k, v, model);
                Object y = apply(JNI, j, op, k, v, null);
                assertEquals(y, x, "op " + op + " key " + k.length + " value " + v.length + " on " + ACTIVE.name());
                if (k.length <= 80_000) {
                    byte[] expected = model.get(Arrays.toString(k));
                    assertArrayEquals(expected, ACTIVE.get(a, k), "model after op " + op);
                    assertArrayEquals(expected, JNI.get(j, k), "model after op " + op);
                }
            }
            assertEquals(model.size(), a.size());
            assertEquals(j.size(), a.size());
        }
    }

    /** Runs {@code op} through {@code be}; updates {@code model} when given (the map is in sync with it). */
    private static Object apply(Backend be, NumaShardMap m, int op, byte[] k, byte[] v, Map<String, byte[]> model) {
        String mk = Arrays.toString(k);
        boolean keyOk = k.length <= 80_000;
        boolean valueOk = v.length <= 150_000;
        Object out = switch (op) {
            case 0 -> outcome(() -> be.get(m, k));
            case 1 -> outcome(() -> be.containsKey(m, k));
            case 2 -> outcome(() -> be.store(m, k, v, 0, false));
            case 3 -> outcome(() -> be.store(m, k, v, 0, true));
            case 4 -> outcome(() -> be.remove(m, k));
            case 5 -> outcome(() -> be.take(m, k));
            case 6 -> outcome(() -> be.swap(m, k, v, 0));
            case 7 -> outcome(() -> be.getOrPut(m, k, v, 0));
            case 8 -> outcome(() -> be.compareAndSwap(m, k, v, v));
            case 9 -> outcome(() -> be.compareAndDelete(m, k, v));
            case 10 -> outcome(() -> be.shardOf(m, k));
            case 11 -> outcome(() -> be.store(m, k, v, 60_000, false));
            case 12 -> outcome(() -> be.add(m, k, 3));
            // Milliseconds left differ between the two maps by a tick: compare the kind of answer.
            default -> outcome(() -> Long.signum(be.ttl(m, k)) + (be.expire(m, k, -1) ? 10 : 20));
        };
        if (model != null && keyOk) {
            byte[] cur = model.get(mk);
            switch (op) {
                case 2, 6, 11 -> {
                    if (valueOk) {
                        model.put(mk, v);
                    }
                }
                case 3, 7 -> {
                    if (valueOk && cur == null) {
                        model.put(mk, v);
                    }
                }
                case 4, 5 -> model.remove(mk);
                case 12 -> {
                    if (cur == null) {
                        model.put(mk, NumaShardMap.counterBytes(3));
                    } else if (cur.length == 8) {
                        model.put(mk, NumaShardMap.counterBytes(NumaShardMap.counterValue(cur) + 3));
                    }
                }
                case 9 -> {
                    if (cur != null && Arrays.equals(cur, v)) {
                        model.remove(mk);
                    }
                }
                default -> { }
            }
        }
        return out;
    }

    @Test
    void valuesAroundTheResultBuffersRoundTrip() {
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).build())) {
            Random r = new Random(7);
            for (int len : SIZES) {
                byte[] k = b("k" + len);
                byte[] v = bytes(r, len);
                assertNull(m.swap(k, v));
                assertArrayEquals(v, m.get(k), "get " + len);
                assertArrayEquals(v, m.getOrPut(k, b("other")), "getOrPut " + len);
                assertArrayEquals(v, m.swap(k, v), "swap " + len);
                assertTrue(m.containsKey(k));
                assertEquals(Status.OK, m.compareAndSwap(k, v, v));
                assertArrayEquals(v, m.take(k), "take " + len);
                assertNull(m.get(k));
                assertNull(m.getOrPut(k, v));
                assertArrayEquals(v, m.get(k));
                assertEquals(Status.OK, m.compareAndDelete(k, v));
                assertTrue(m.putIfAbsent(k, v, Duration.ofMinutes(1)));
                assertTrue(m.ttlMillis(k) > 0);
                assertTrue(m.persist(k));
                assertEquals(NumaShardMap.TTL_NEVER, m.ttlMillis(k));
                assertArrayEquals(v, m.swap(k, v, Duration.ofMinutes(1)));
                assertTrue(m.remove(k));
            }
        }
    }

    @Test
    void perKeyCallsAfterCloseThrowClosedOnBothBackends() {
        for (Backend be : List.of(ACTIVE, JNI)) {
            NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).maxKeyLen(80_000).build());
            m.close();
            byte[] k = b("k");
            byte[] big = new byte[70_000];
            List<java.util.concurrent.Callable<Object>> calls = List.of(
                    () -> be.get(m, k), () -> be.get(m, big), () -> be.containsKey(m, k), () -> be.shardOf(m, k),
                    () -> be.store(m, k, k, 0, false), () -> be.store(m, k, big, 5, true), () -> be.remove(m, k),
                    () -> be.take(m, k), () -> be.add(m, k, 1), () -> be.expire(m, k, 0), () -> be.ttl(m, k),
                    () -> be.swap(m, k, k, 0), () -> be.swap(m, k, k, 5), () -> be.getOrPut(m, k, k, 0),
                    () -> be.compareAndSwap(m, k, k, k), () -> be.compareAndDelete(m, k, k));
            for (java.util.concurrent.Callable<Object> c : calls) {
                MapClosedException e = assertThrows(MapClosedException.class, c::call, be.name());
                assertEquals(Status.CLOSED, e.status());
            }
        }
    }

    /**
     * Error statuses in a hot loop, so that the JIT compiles the calls and the status decoding
     * (Status.of indexes an array with the status): a native int return whose upper register
     * half is not clean (legal in the C ABI; the engine's ns_take returns one on some paths)
     * must not reach compiled Java code as such. This crashed the JVM once, before the FFM
     * backend read returns as 64-bit words and narrowed them.
     */
    @Test
    void errorStatusesInAHotLoopStayWellFormed() {
        NumaShardMap m = TestSupport.open(2);
        m.close();
        byte[] k = b("k");
        int rounds = TestSupport.scaled(60_000);
        int closed = 0;
        for (int i = 0; i < rounds; i++) {
            try {
                switch (i % 4) {
                    case 0 -> m.take(k);
                    case 1 -> m.get(k);
                    case 2 -> m.swap(k, k);
                    default -> m.compareAndDelete(k, k);
                }
            } catch (MapClosedException e) {
                if (e.status() == Status.CLOSED && e.code() == 104) {
                    closed++;
                }
            }
        }
        assertEquals(rounds, closed);
    }

    @Test
    void theForcingPropertyIsHonoured() {
        String forced = System.getProperty(Backend.PROPERTY, "auto");
        if (forced.equals("jni")) {
            assertSame(JNI, ACTIVE);
        }
        assertEquals(ACTIVE.name(), NumaShardMap.nativeBackend());
        assertTrue(Objects.equals(ACTIVE.name(), "ffm") == ACTIVE.getClass().getSimpleName().equals("FfmBackend"));
    }
}
