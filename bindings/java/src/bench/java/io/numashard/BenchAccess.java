package io.numashard;

import java.util.Objects;

/**
 * Benchmarks only (compiled with the bench sources, never in the jar): the JNI backend called
 * directly in a process whose default backend is FFM, so both are measured in one JVM, on the
 * same map, interleaved ({@code io.numashard.bench.GoalsProbe}'s {@code ns-jni-direct}).
 */
public final class BenchAccess {
    private BenchAccess() {}

    /** {@link NumaShardMap#get(byte[])} on the JNI backend. */
    public static byte[] jniGet(NumaShardMap map, byte[] key) {
        return JniBackend.INSTANCE.get(map, Objects.requireNonNull(key, "key"));
    }

    /** {@link NumaShardMap#execute(Batch)} on the JNI backend. */
    public static void jniExecute(NumaShardMap map, Batch batch) {
        if (batch.size() == 0) {
            return;
        }
        batch.beforeExecute();
        JniBackend.INSTANCE.batch(map, batch, batch.size());
        batch.afterExecute(map);
    }
}
