package io.numashard;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/** The snapshot calls behind {@link NumaShardMap#save} and {@link NumaShardMap#openSnapshot}. */
final class Snapshots {
    private Snapshots() {}

    /** The exception for a failed snapshot call, with the engine's explanation where it gives one. */
    static NumaShardException failure(int code, String message) {
        NumaShardException e = NumaShardException.forStatus(code);
        if (e.getClass() == NumaShardException.class && message != null && !message.isEmpty()) {
            return new NumaShardException(code, message);
        }
        return e;
    }

    static NumaShardMap open(Path dir, Config config) {
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(config, "config");
        int[] status = new int[1];
        String[] message = new String[1];
        long h = NumaShardMap.nOpenSnapshot(config.packed(), config.topology, config.topologyXml, config.nodes,
                config.shardsPerNode, dir.toString(), status, message);
        if (h == 0) {
            throw failure(status[0], message[0]);
        }
        return NumaShardMap.fromSnapshotHandle(h);
    }

    static SaveReport save(NumaShardMap map, Path dir) {
        Objects.requireNonNull(dir, "dir");
        int[] status = new int[1];
        String[] message = new String[1];
        long[] r = map.nSave(map.handle, dir.toString(), status, message);
        if (r == null) {
            throw failure(status[0], message[0]);
        }
        return new SaveReport(r[0], r[1], r[2], (int) r[3], Duration.ofNanos(r[4]), Duration.ofNanos(r[5]),
                Duration.ofNanos(r[6]), r[7]);
    }
}
