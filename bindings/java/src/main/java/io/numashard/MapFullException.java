package io.numashard;

/** {@link Status#FULL}: A write would exceed the map's memory limit; nothing was changed. */
public final class MapFullException extends NumaShardException {
    private static final long serialVersionUID = 1L;

    /** The exception for {@link Status#FULL}. */
    public MapFullException() {
        super(Status.FULL.code());
    }
}
