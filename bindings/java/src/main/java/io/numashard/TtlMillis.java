package io.numashard;

import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Objects;
import java.util.Optional;

/** Times to live as the C ABI takes them ({@code ns_op.ttl_ms}): whole milliseconds. */
final class TtlMillis {
    /** {@link NumaShardMap#NO_EXPIRY}. */
    static final Duration FOREVER = ChronoUnit.FOREVER.getDuration();

    /** {@code NS_NO_EXPIRY} (UINT64_MAX) as a Java long. */
    static final long NEVER = -1;

    private TtlMillis() {}

    /**
     * {@code ttl} in milliseconds, rounded up so that no positive duration becomes 0 (which the
     * engine reads as "the map's default" for stores); {@link #NEVER} for 2^63 ms or more,
     * {@link NumaShardMap#NO_EXPIRY} included; zero stays zero.
     *
     * @throws IllegalArgumentException when negative
     */
    static long of(Duration ttl, String what) {
        Objects.requireNonNull(ttl, what);
        if (ttl.isNegative()) {
            throw new IllegalArgumentException(what + " must not be negative: " + ttl);
        }
        long seconds = ttl.getSeconds();
        if (seconds >= Long.MAX_VALUE / 1000) {
            return NEVER;
        }
        return seconds * 1000 + (ttl.getNano() + 999_999) / 1_000_000;
    }

    /**
     * The TTL of a store: positive, since 0 would mean the map's default to the engine.
     *
     * @throws IllegalArgumentException when zero or negative
     */
    static long forStore(Duration ttl) {
        long ms = of(ttl, "ttl");
        if (ms == 0) {
            throw new IllegalArgumentException("ttl must be positive (NO_EXPIRY for none): " + ttl);
        }
        return ms;
    }

    /** A remaining TTL in Redis {@code PTTL} form (-1 never, -2 absent) as {@code ttl()} returns it. */
    static Optional<Duration> remaining(long ms) {
        if (ms == NumaShardMap.TTL_ABSENT) {
            return Optional.empty();
        }
        return Optional.of(ms == NumaShardMap.TTL_NEVER ? FOREVER : Duration.ofMillis(ms));
    }
}
