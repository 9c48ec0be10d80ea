package io.numashard;

/**
 * Every outcome of a numashard operation, with the numeric values of the C ABI's {@code ns_status}.
 * Values below 100 are outcomes the API reports through return values (not found, exists,
 * mismatch, buffer too small); values from 100 up are errors and surface as
 * {@link NumaShardException}.
 */
public enum Status {
    /** The operation succeeded. */
    OK(0),
    /** The key is not in the map. */
    NOT_FOUND(1),
    /** {@code putIfAbsent} found the key already present. */
    EXISTS(2),
    /** {@code compareAndSet} found a value other than the expected one. */
    MISMATCH(3),
    /** The destination buffer is smaller than the value; the needed size is reported. */
    BUFFER_TOO_SMALL(4),
    /** An argument is invalid. */
    INVALID_ARGUMENT(100),
    /** The key is longer than the map's {@code maxKeyLen}. */
    KEY_TOO_LARGE(101),
    /** The value is longer than the map's {@code maxValueLen}. */
    VALUE_TOO_LARGE(102),
    /** Storing would exceed the map's memory limit; nothing was changed. */
    FULL(103),
    /** The map is closed. */
    CLOSED(104),
    /** {@code add} found a stored value that is not an 8-byte counter. */
    NOT_A_COUNTER(105),
    /** The topology could not be loaded or the placement is impossible. */
    TOPOLOGY(106),
    /** A panic was caught at the library boundary. */
    PANIC(107),
    /** The operating system refused a resource (memory, threads). */
    RESOURCE(108),
    /** Reading or writing a snapshot failed in the operating system (no space left, permission denied). */
    IO(120),
    /** The directory holds no snapshot. */
    NO_SNAPSHOT(121),
    /** A file is not a numashard snapshot (a foreign file). */
    NOT_A_SNAPSHOT(122),
    /** The snapshot was written in a format version this library does not read. */
    SNAPSHOT_VERSION(123),
    /** A snapshot file is corrupt: checksum mismatch, truncation or bad structure. */
    SNAPSHOT_CORRUPT(124),
    /** Another save into the same map or directory is in progress. */
    SNAPSHOT_BUSY(125),
    /** A status value this binding does not know (a newer native library). */
    UNKNOWN(-1);

    private static final Status[] OUTCOMES = {OK, NOT_FOUND, EXISTS, MISMATCH, BUFFER_TOO_SMALL};
    private static final Status[] ERRORS = {
        INVALID_ARGUMENT, KEY_TOO_LARGE, VALUE_TOO_LARGE, FULL, CLOSED, NOT_A_COUNTER, TOPOLOGY, PANIC, RESOURCE
    };

    private static final Status[] SNAPSHOT_ERRORS = {
        IO, NO_SNAPSHOT, NOT_A_SNAPSHOT, SNAPSHOT_VERSION, SNAPSHOT_CORRUPT, SNAPSHOT_BUSY
    };

    private final int code;

    Status(int code) {
        this.code = code;
    }

    /**
     * The numeric {@code ns_status} value.
     *
     * @return the {@code ns_status} value
     */
    public int code() {
        return code;
    }

    /**
     * True for the error range (100 and up, and unknown codes).
     *
     * @return true for an error (not an outcome such as NOT_FOUND)
     */
    public boolean isError() {
        return code >= 100 || this == UNKNOWN;
    }

    /**
     * The status with this numeric value; {@link #UNKNOWN} for values this binding does not know.
     *
     * @param code an {@code ns_status} value
     * @return the status, {@link #UNKNOWN} for an unknown code
     */
    public static Status of(int code) {
        if (code >= 0 && code < OUTCOMES.length) {
            return OUTCOMES[code];
        }
        if (code >= 100 && code < 100 + ERRORS.length) {
            return ERRORS[code - 100];
        }
        if (code >= 120 && code < 120 + SNAPSHOT_ERRORS.length) {
            return SNAPSHOT_ERRORS[code - 120];
        }
        return UNKNOWN;
    }

    /**
     * The native library's description of this status ({@code ns_status_str}).
     *
     * @return the native library's message
     */
    public String description() {
        return NumaShardMap.statusString(code);
    }
}
