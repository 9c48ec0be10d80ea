package io.numashard;

import static io.numashard.TestSupport.b;
import static io.numashard.TestSupport.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Snapshots through the binding: save, open into other shard counts, the errors, a save during writes. */
class SnapshotTest {
    @TempDir
    Path dir;

    private static List<Path> dataFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".nss")).sorted().collect(Collectors.toList());
        }
    }

    @Test
    void saveThenOpenInOtherShardCounts() {
        try (NumaShardMap m = TestSupport.open(2)) {
            for (int i = 0; i < 10_000; i++) {
                m.put(b("key-" + i), b("value-" + i));
            }
            m.add(b("counter"), 41);
            m.put(b("hour"), b("h"), Duration.ofHours(1));
            SaveReport r = m.save(dir);
            assertEquals(10_002, r.entries());
            assertEquals(2, r.shards());
            assertTrue(r.generation() > 0 && r.bytes() > 0 && !r.elapsed().isNegative());
        }
        for (int shards : new int[] {1, 3}) {
            try (NumaShardMap l = NumaShardMap.openSnapshot(dir, Config.builder().shards(shards).build())) {
                assertEquals(10_002, l.size());
                for (int i = 0; i < 10_000; i += 37) {
                    assertEquals("value-" + i, s(l.get(b("key-" + i))));
                }
                assertEquals(42, l.add(b("counter"), 1));
                Duration ttl = l.ttl(b("hour")).orElseThrow();
                assertTrue(ttl.compareTo(Duration.ofMinutes(59)) > 0 && ttl.compareTo(Duration.ofHours(1)) <= 0, ttl.toString());
            }
        }
    }

    @Test
    void damagedForeignAndMissingSnapshotsAreRefusedWithTheReason() throws IOException {
        NumaShardException missing = assertThrows(NumaShardException.class,
                () -> NumaShardMap.openSnapshot(dir.resolve("none"), Config.defaults()));
        assertEquals(Status.NO_SNAPSHOT, missing.status());
        assertTrue(missing.getMessage().contains("numashard.snapshot"), missing.getMessage());
        try (NumaShardMap m = TestSupport.open(2)) {
            for (int i = 0; i < 5000; i++) {
                m.put(b("k" + i), new byte[40]);
            }
            m.save(dir);
            // Saving where no directory can be: I/O, with the reason.
            NumaShardException io = assertThrows(NumaShardException.class,
                    () -> m.save(dir.resolve("numashard.snapshot").resolve("sub")));
            assertEquals(Status.IO, io.status());
            m.close();
            assertThrows(MapClosedException.class, () -> m.save(dir));
        }
        Path file = dataFiles(dir).get(0);
        byte[] good = Files.readAllBytes(file);
        byte[] bad = good.clone();
        bad[bad.length / 2] ^= 0x20;
        Files.write(file, bad);
        NumaShardException corrupt = assertThrows(NumaShardException.class,
                () -> NumaShardMap.openSnapshot(dir, Config.defaults()));
        assertEquals(Status.SNAPSHOT_CORRUPT, corrupt.status());
        assertTrue(corrupt.getMessage().contains("checksum"), corrupt.getMessage());
        Files.write(file, java.util.Arrays.copyOf(good, good.length - 1));
        assertEquals(Status.SNAPSHOT_CORRUPT, assertThrows(NumaShardException.class,
                () -> NumaShardMap.openSnapshot(dir, Config.defaults())).status());
        Files.write(file, good);
        Files.writeString(dir.resolve("numashard.snapshot"), "not a snapshot");
        assertEquals(Status.NOT_A_SNAPSHOT, assertThrows(NumaShardException.class,
                () -> NumaShardMap.openSnapshot(dir, Config.defaults())).status());
        assertEquals(Status.SNAPSHOT_BUSY, Status.of(125));
        assertEquals(Status.SNAPSHOT_VERSION, Status.of(123));
    }

    @Test
    void saveDuringWritesIsOneMoment() throws Exception {
        final int keys = 3000;
        try (NumaShardMap m = TestSupport.open(3)) {
            AtomicBoolean stop = new AtomicBoolean();
            Thread writer = new Thread(() -> {
                for (long round = 1; !stop.get(); round++) {
                    for (int k = 0; k < keys; k++) {
                        m.put(b("w-" + k), b(Long.toString(round)));
                    }
                }
            });
            writer.start();
            Thread.sleep(20);
            m.save(dir);
            stop.set(true);
            writer.join();
        }
        try (NumaShardMap l = NumaShardMap.openSnapshot(dir, Config.builder().shards(2).build())) {
            // The writer puts keys in order, round after round: the snapshot shows round r for a
            // prefix of the keys and r - 1 for the rest.
            long first = round(l, 0);
            long last = round(l, keys - 1);
            assertTrue(first == last || first == last + 1, first + " " + last);
            long prev = first;
            for (int k = 0; k < keys; k++) {
                long r = round(l, k);
                assertTrue((r == first || r == last) && r <= prev, "key " + k + " at round " + r);
                prev = r;
            }
        }
    }

    private static long round(NumaShardMap l, int k) {
        byte[] v = l.get(b("w-" + k));
        return v == null ? 0 : Long.parseLong(s(v));
    }
}
