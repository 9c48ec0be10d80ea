package io.numashard;

/** {@link Status#CLOSED}: The map is closed (by {@link NumaShardMap#close()}, possibly racing this call). */
public final class MapClosedException extends NumaShardException {
    private static final long serialVersionUID = 1L;

    /** The exception for {@link Status#CLOSED}. */
    public MapClosedException() {
        super(Status.CLOSED.code());
    }
}
