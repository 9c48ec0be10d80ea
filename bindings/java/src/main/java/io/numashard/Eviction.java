package io.numashard;

/**
 * What a map does when a write would pass its memory limit ({@code ns_eviction}), chosen with
 * {@link Config.Builder#eviction(Eviction)}.
 */
public enum Eviction {
    /** Refuse the write with {@link MapFullException} and change nothing (the default: a map). */
    NONE(0),
    /**
     * A cache: each shard keeps within {@code memoryLimit / shards} bytes by evicting entries
     * with S3-FIFO (scan-resistant). A write throws {@link MapFullException} only when the entry
     * alone is larger than a shard's share. Needs {@link Config.Builder#memoryLimit(long)}.
     */
    S3_FIFO(1);

    final int code;

    Eviction(int code) {
        this.code = code;
    }
}
