package io.numashard;

/** {@link Status#NOT_A_COUNTER}: {@code add} found a stored value that is not an 8-byte counter. */
public final class NotACounterException extends NumaShardException {
    private static final long serialVersionUID = 1L;

    /** The exception for {@link Status#NOT_A_COUNTER}. */
    public NotACounterException() {
        super(Status.NOT_A_COUNTER.code());
    }
}
