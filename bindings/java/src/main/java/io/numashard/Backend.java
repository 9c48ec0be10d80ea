package io.numashard;

import java.util.Locale;

/**
 * How the hot single-key calls and batches cross into the engine: {@link JniBackend} (JNI, every
 * JDK) or {@code FfmBackend} (the Foreign Function &amp; Memory API, JDK 22 and newer; compiled
 * into the jar's {@code META-INF/versions/22}). One is chosen when {@link NumaShardMap} is
 * initialised (see {@link #select()}) and used by every map of the process. The cold calls
 * (open, close, stats, iteration, snapshots, {@code replaceAll}) always use JNI.
 *
 * <p>Contract shared by both, so that a map behaves identically on either: arguments are already
 * checked by {@link NumaShardMap} (non-null, valid TTL); outcomes are return values exactly as
 * documented on the map's methods; error statuses throw {@link NumaShardException#forStatus};
 * the map object stays reachable until the native call has returned (its {@code Cleaner} frees
 * the handle only afterwards).
 */
interface Backend {
    /** The system property choosing the backend: {@code auto} (default), {@code ffm} or {@code jni}. */
    String PROPERTY = "numashard.backend";

    /** {@code "jni"} or {@code "ffm"}. */
    String name();

    /** The value or null (absent). */
    byte[] get(NumaShardMap m, byte[] key);

    /** True when present (no value bytes copied). */
    boolean containsKey(NumaShardMap m, byte[] key);

    int shardOf(NumaShardMap m, byte[] key);

    /** ns_put / ns_put_if_absent (their _ttl forms when {@code ttlMs != 0}); false when put-if-absent found the key. */
    boolean store(NumaShardMap m, byte[] key, byte[] value, long ttlMs, boolean ifAbsent);

    /** True when the key was present. */
    boolean remove(NumaShardMap m, byte[] key);

    /** The removed value, or null. */
    byte[] take(NumaShardMap m, byte[] key);

    /** The counter's new value. */
    long add(NumaShardMap m, byte[] key, long delta);

    /** True when the key was present ({@code ttlMs}: 0 = now, -1 = never). */
    boolean expire(NumaShardMap m, byte[] key, long ttlMs);

    /** Milliseconds left, {@link NumaShardMap#TTL_NEVER} or {@link NumaShardMap#TTL_ABSENT}. */
    long ttl(NumaShardMap m, byte[] key);

    /** The previous value or null; {@code ttlMs} as {@code ns_op.ttl_ms} (0 = the map's default). */
    byte[] swap(NumaShardMap m, byte[] key, byte[] value, long ttlMs);

    /** Null when inserted, else the present value. */
    byte[] getOrPut(NumaShardMap m, byte[] key, byte[] value, long ttlMs);

    /** {@link NumaShardMap#ST_OK}, {@link NumaShardMap#ST_MISMATCH} or {@link NumaShardMap#ST_NOT_FOUND}. */
    int compareAndSwap(NumaShardMap m, byte[] key, byte[] expected, byte[] value);

    /** {@link NumaShardMap#ST_OK}, {@link NumaShardMap#ST_MISMATCH} or {@link NumaShardMap#ST_NOT_FOUND}. */
    int compareAndDelete(NumaShardMap m, byte[] key, byte[] expected);

    /** Runs the {@code n} packed {@code ns_op}s of {@code batch} (n &gt; 0). */
    void batch(NumaShardMap m, Batch batch, int n);

    /**
     * Runs the {@code n} gets {@code batch} laid out for {@code ns_get_many}
     * ({@link Batch#beforeGetMany()}; n &gt; 0); true when some value did not fit its slot
     * ({@code NS_BUFFER_TOO_SMALL}), false when all statuses are final.
     */
    boolean getMany(NumaShardMap m, Batch batch, int n);

    /**
     * The backend for this process: {@code -Dnumashard.backend=jni} forces JNI;
     * {@code =ffm} forces FFM and fails (one line) where it is not available; {@code auto} (or
     * unset) takes FFM when the JDK is 22 or newer and the jar carries its classes (a
     * multi-release jar built with JDK 22+, used as a jar), JNI otherwise.
     * Called after the native library is loaded. A bad setting throws an
     * {@link UnsatisfiedLinkError} (an {@code Error}: the class initialiser rethrows it as it is,
     * one line, like a library that cannot load).
     */
    static Backend select() {
        String wanted = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        switch (wanted) {
            case "jni":
                return JniBackend.INSTANCE;
            case "auto":
            case "":
            case "ffm":
                break;
            default:
                throw new UnsatisfiedLinkError("numashard: -D" + PROPERTY + "=" + wanted
                        + " is not one of auto, ffm, jni");
        }
        int feature = Runtime.version().feature();
        String why;
        if (feature < 22) {
            why = "JDK " + feature + " has no final java.lang.foreign (JDK 22+ needed)";
        } else {
            try {
                Class<?> c = Class.forName("io.numashard.FfmBackend", true, Backend.class.getClassLoader());
                return (Backend) c.getDeclaredConstructor().newInstance();
            } catch (ClassNotFoundException e) {
                why = "the FFM classes are not on the class path (they are in the jar's META-INF/versions/22:"
                        + " use the jar built with JDK 22+, not its classes directory)";
            } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                why = "the FFM backend failed to initialise: " + cause;
            }
        }
        if (wanted.equals("ffm")) {
            throw new UnsatisfiedLinkError("numashard: -D" + PROPERTY + "=ffm, but " + why);
        }
        return JniBackend.INSTANCE;
    }
}
