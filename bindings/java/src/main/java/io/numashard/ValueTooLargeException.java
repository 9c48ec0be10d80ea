package io.numashard;

/** {@link Status#VALUE_TOO_LARGE}: The value is longer than the map's {@code maxValueLen}. */
public final class ValueTooLargeException extends NumaShardException {
    private static final long serialVersionUID = 1L;

    /** The exception for {@link Status#VALUE_TOO_LARGE}. */
    public ValueTooLargeException() {
        super(Status.VALUE_TOO_LARGE.code());
    }
}
