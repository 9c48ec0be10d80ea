package io.numashard;

/** {@link Status#KEY_TOO_LARGE}: The key is longer than the map's {@code maxKeyLen}. */
public final class KeyTooLargeException extends NumaShardException {
    private static final long serialVersionUID = 1L;

    /** The exception for {@link Status#KEY_TOO_LARGE}. */
    public KeyTooLargeException() {
        super(Status.KEY_TOO_LARGE.code());
    }
}
