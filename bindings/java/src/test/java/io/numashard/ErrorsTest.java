package io.numashard;

import static io.numashard.TestSupport.b;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every error status the binding can produce, and that a failed call changes nothing. */
class ErrorsTest {

    @Test
    void statusCodesMatchTheHeader() {
        int[] codes = {0, 1, 2, 3, 4, 100, 101, 102, 103, 104, 105, 106, 107, 108};
        Status[] all = Status.values();
        for (int i = 0; i < codes.length; i++) {
            assertEquals(codes[i], all[i].code());
            assertEquals(all[i], Status.of(codes[i]));
            assertEquals(codes[i] >= 100, all[i].isError());
            assertFalse(all[i].description().isEmpty());
        }
        assertEquals(Status.UNKNOWN, Status.of(99));
        assertEquals(Status.UNKNOWN, Status.of(-5));
        assertEquals("unknown status", Status.UNKNOWN.description());
    }

    @Test
    void exceptionFactoryPicksSubclasses() {
        assertInstanceOf(MapClosedException.class, NumaShardException.forStatus(104));
        assertInstanceOf(MapFullException.class, NumaShardException.forStatus(103));
        assertInstanceOf(KeyTooLargeException.class, NumaShardException.forStatus(101));
        assertInstanceOf(ValueTooLargeException.class, NumaShardException.forStatus(102));
        assertInstanceOf(NotACounterException.class, NumaShardException.forStatus(105));
        for (int code : new int[] {100, 106, 107, 108, 555}) {
            NumaShardException e = NumaShardException.forStatus(code);
            assertEquals(NumaShardException.class, e.getClass());
            assertEquals(code, e.code());
            assertTrue(e.getMessage().contains("status " + code), e.getMessage());
        }
        assertEquals(Status.PANIC, NumaShardException.forStatus(107).status());
        assertEquals(Status.RESOURCE, NumaShardException.forStatus(108).status());
        assertEquals(Status.UNKNOWN, NumaShardException.forStatus(555).status());
    }

    @Test
    void keyTooLarge() {
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).maxKeyLen(8).build())) {
            byte[] ok = new byte[8];
            byte[] big = new byte[9];
            m.put(ok, b("v"));
            List<Executable> calls = List.of(
                    () -> m.get(big),
                    () -> m.get(big, ByteBuffer.allocateDirect(8)),
                    () -> m.containsKey(big),
                    () -> m.put(big, b("v")),
                    () -> m.putIfAbsent(big, b("v")),
                    () -> m.getOrPut(big, b("v")),
                    () -> m.remove(big),
                    () -> m.take(big),
                    () -> m.compareAndSet(big, b("v"), b("w")),
                    () -> m.compareAndDelete(big, b("v")),
                    () -> m.swap(big, b("v")),
                    () -> m.add(big, 1),
                    () -> m.shardOf(big),
                    () -> m.replaceAll(Map.of(big, b("v"))));
            for (Executable c : calls) {
                KeyTooLargeException e = assertThrows(KeyTooLargeException.class, c);
                assertEquals(Status.KEY_TOO_LARGE, e.status());
            }
            assertEquals(1, m.size(), "failed calls changed nothing");
        }
    }

    @Test
    void valueTooLarge() {
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).maxValueLen(16).build())) {
            byte[] big = new byte[17];
            m.put(b("k"), new byte[16]);
            assertThrows(ValueTooLargeException.class, () -> m.put(b("k"), big));
            assertThrows(ValueTooLargeException.class, () -> m.putIfAbsent(b("n"), big));
            assertThrows(ValueTooLargeException.class, () -> m.getOrPut(b("n"), big));
            assertThrows(ValueTooLargeException.class, () -> m.compareAndSet(b("k"), new byte[16], big));
            assertThrows(ValueTooLargeException.class, () -> m.replaceAll(Map.of(b("x"), big)));
            assertEquals(16, m.get(b("k")).length);
            assertEquals(1, m.size());
        }
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(1).maxValueLen(4).build())) {
            assertThrows(ValueTooLargeException.class, () -> m.add(b("c"), 1), "a counter needs 8 bytes");
        }
    }

    @Test
    void fullChangesNothing() {
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).memoryLimit(64 * 1024).build())) {
            int stored = 0;
            MapFullException full = null;
            for (int i = 0; i < 100_000; i++) {
                try {
                    m.put(b("key-" + i), new byte[100]);
                    stored++;
                } catch (MapFullException e) {
                    full = e;
                    break;
                }
            }
            assertTrue(full != null, "memory limit reached");
            assertEquals(Status.FULL, full.status());
            assertEquals(stored, m.size());
            assertTrue(m.stats().bytes() <= 64 * 1024);
            assertThrows(MapFullException.class, () -> m.putIfAbsent(b("another"), new byte[1000]));
            assertThrows(MapFullException.class, () -> m.replaceAll(Map.of(b("huge"), new byte[100_000])));
            assertEquals(stored, m.size(), "a failed replaceAll kept the old contents");
            m.clear();
            m.put(b("after-clear"), new byte[100]);
        }
    }

    @Test
    void notACounter() {
        try (NumaShardMap m = TestSupport.open(2)) {
            m.put(b("c"), b("abc"));
            NotACounterException e = assertThrows(NotACounterException.class, () -> m.add(b("c"), 1));
            assertEquals(Status.NOT_A_COUNTER, e.status());
            assertEquals("abc", TestSupport.s(m.get(b("c"))));
        }
    }

    @Test
    void invalidConfigAndTopology() {
        NumaShardException e = assertThrows(NumaShardException.class,
                () -> NumaShardMap.open(Config.builder().maxKeyLen(0).build()));
        assertEquals(Status.INVALID_ARGUMENT, e.status());
        e = assertThrows(NumaShardException.class,
                () -> NumaShardMap.open(Config.builder().maxValueLen(1L << 40).build()));
        assertEquals(Status.INVALID_ARGUMENT, e.status());
        e = assertThrows(NumaShardException.class,
                () -> NumaShardMap.open(Config.builder().topology("this is not a topology").build()));
        assertEquals(Status.TOPOLOGY, e.status());
        e = assertThrows(NumaShardException.class,
                () -> NumaShardMap.open(Config.builder().topologyXml("/nonexistent/topology.xml").build()));
        assertEquals(Status.TOPOLOGY, e.status());
        e = assertThrows(NumaShardException.class,
                () -> NumaShardMap.open(Config.builder().nodes(12345).build()));
        assertTrue(e.status() == Status.TOPOLOGY || e.status() == Status.INVALID_ARGUMENT, e.toString());
        assertThrows(IllegalArgumentException.class, () -> Config.builder().shards(-1));
        assertThrows(IllegalArgumentException.class, () -> Config.builder().memoryLimit(-1));
    }

    @Test
    void everyCallAfterCloseThrowsClosed() {
        NumaShardMap m = TestSupport.open(2);
        m.put(b("k"), b("v"));
        Batch batch = new Batch();
        batch.get(b("k"));
        m.close();
        List<Executable> calls = List.of(
                () -> m.get(b("k")),
                () -> m.get(b("k"), ByteBuffer.allocateDirect(8)),
                () -> m.get(b("k"), ByteBuffer.allocate(8)),
                () -> m.containsKey(b("k")),
                () -> m.put(b("k"), b("v")),
                () -> m.put(ByteBuffer.allocateDirect(1), ByteBuffer.allocateDirect(1)),
                () -> m.putIfAbsent(b("k"), b("v")),
                () -> m.getOrPut(b("k"), b("v")),
                () -> m.remove(b("k")),
                () -> m.take(b("k")),
                () -> m.compareAndSet(b("k"), b("v"), b("w")),
                () -> m.remove(b("k"), b("v")),
                () -> m.swap(b("k"), b("v")),
                () -> m.add(b("c"), 1),
                m::size,
                m::clear,
                m::shardCount,
                () -> m.shardOf(b("k")),
                m::stats,
                m::prometheus,
                m::describeTopology,
                () -> m.execute(batch),
                m::iterator,
                () -> m.forEach((k, v) -> {}),
                () -> m.replaceAll(Map.of()));
        for (Executable c : calls) {
            MapClosedException e = assertThrows(MapClosedException.class, c);
            assertEquals(Status.CLOSED, e.status());
        }
        m.close();
        assertTrue(m.isClosed());
    }

    @Test
    void batchReportsPerOperationErrors() {
        try (NumaShardMap m = NumaShardMap.open(Config.builder().shards(2).maxKeyLen(8).maxValueLen(16).build())) {
            m.put(b("str"), b("abc"));
            Batch batch = new Batch();
            int tooLongKey = batch.get(new byte[9]);
            int tooLongValue = batch.put(b("k"), new byte[17]);
            int notCounter = batch.add(b("str"), 1);
            int ok = batch.put(b("k2"), b("v"));
            m.execute(batch);
            assertEquals(Status.KEY_TOO_LARGE, batch.status(tooLongKey));
            assertEquals(Status.VALUE_TOO_LARGE, batch.status(tooLongValue));
            assertEquals(Status.NOT_A_COUNTER, batch.status(notCounter));
            assertThrows(NotACounterException.class, () -> batch.counter(notCounter));
            assertThrows(KeyTooLargeException.class, () -> batch.value(tooLongKey));
            assertEquals(Status.OK, batch.status(ok));
            assertNull(m.get(b("k")));
            assertEquals("v", TestSupport.s(m.get(b("k2"))));
        }
    }
}
