package io.numashard;

/**
 * The one exception type of numashard: an operation failed with an error {@link Status}. The
 * common statuses have subclasses ({@link MapClosedException}, {@link MapFullException},
 * {@link KeyTooLargeException}, {@link ValueTooLargeException}, {@link NotACounterException}) so
 * callers can catch them by type; every other error is a plain {@code NumaShardException} whose
 * {@link #status()} tells which.
 */
public class NumaShardException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The status of the failed operation. */
    private final Status status;
    /** The raw {@code ns_status} value. */
    private final int code;

    /**
     * An exception for a status code, with the native library's message for it.
     *
     * @param code an {@code ns_status} value
     */
    public NumaShardException(int code) {
        this(code, null);
    }

    /**
     * An exception for a status code, with a detail appended to the native message.
     *
     * @param code an {@code ns_status} value
     * @param detail text appended to the native message
     */
    public NumaShardException(int code, String detail) {
        super(message(code, detail));
        this.code = code;
        this.status = Status.of(code);
    }

    private static String message(int code, String detail) {
        String base = NumaShardMap.statusString(code) + " (" + Status.of(code) + ", status " + code + ")";
        return detail == null ? base : base + ": " + detail;
    }

    /**
     * The status of the failed operation.
     *
     * @return the status
     */
    public Status status() {
        return status;
    }

    /**
     * The raw {@code ns_status} value (useful when {@link #status()} is {@link Status#UNKNOWN}).
     *
     * @return the raw status code
     */
    public int code() {
        return code;
    }

    /**
     * The exception for an error status: the matching subclass, or a plain {@code NumaShardException}.
     *
     * @param code an {@code ns_status} value
     * @return the exception to throw
     */
    public static NumaShardException forStatus(int code) {
        switch (Status.of(code)) {
            case CLOSED:
                return new MapClosedException();
            case FULL:
                return new MapFullException();
            case KEY_TOO_LARGE:
                return new KeyTooLargeException();
            case VALUE_TOO_LARGE:
                return new ValueTooLargeException();
            case NOT_A_COUNTER:
                return new NotACounterException();
            default:
                return new NumaShardException(code);
        }
    }
}
