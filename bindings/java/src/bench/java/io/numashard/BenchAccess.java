package io.numashard;

import java.util.Objects;

/**
 * Benchmarks only (compiled with the bench sources, never in the jar): the JNI backend called
 * directly in a process whose default backend is FFM, so both are measured in one JVM, on the
 * same map, interleaved ({@code io.numashard.bench.GoalsProbe}'s {@code ns-jni-direct}); and an
 * all-get batch run either way ({@code io.numashard.bench.GetManyProbe}).
 */
public final class BenchAccess {
    private BenchAccess() {}

    /** {@link NumaShardMap#get(byte[])} on the JNI backend. */
    public static byte[] jniGet(NumaShardMap map, byte[] key) {
        return JniBackend.INSTANCE.get(map, Objects.requireNonNull(key, "key"));
    }

    /** {@link NumaShardMap#execute(Batch)} on the JNI backend. */
    public static void jniExecute(NumaShardMap map, Batch batch) {
        map.execute(Objects.requireNonNull(batch, "batch"), JniBackend.INSTANCE, true);
    }

    /**
     * {@link NumaShardMap#execute(Batch)} on the JNI backend ({@code jni}) or the process's, with
     * an all-get batch run through {@code ns_get_many} ({@code getMany}) or, as before it, as
     * {@code ns_op} records through {@code ns_batch} ({@code io.numashard.bench.GetManyProbe}).
     */
    public static void execute(NumaShardMap map, Batch batch, boolean jni, boolean getMany) {
        map.execute(Objects.requireNonNull(batch, "batch"), jni ? JniBackend.INSTANCE : NumaShardMap.BACKEND,
                getMany);
    }

    /** True when {@code batch}'s last execution ran through {@code ns_get_many}. */
    public static boolean ranAsGetMany(Batch batch) {
        return batch.ranAsGetMany();
    }
}
