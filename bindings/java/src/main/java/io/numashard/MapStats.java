package io.numashard;

import java.util.List;

/**
 * Map totals and every shard's stats, from {@code ns_stats_get} and {@code ns_shard_stats_get_sized}.
 *
 * @param shards number of shards
 * @param entries entries in all shards
 * @param bytes bytes charged in all shards
 * @param mappedBytes bytes of native memory mapped in all shards (what the map costs outside the heap)
 * @param ops operations applied in all shards
 * @param memoryLimit the memory limit (0 = none)
 * @param bindingApplied true when every shard's CPU and memory binding was applied
 * @param replaceStallMaxNanos longest time calls were held off by a replaceAll switch
 * @param replaceCount completed replaceAll calls
 * @param hits reads that found their key (counted with eviction or {@link Config.Builder#recordStats})
 * @param misses reads that found no live entry (counted likewise)
 * @param evictions entries evicted to keep within the memory limit
 * @param expirations entries removed because their time to live ran out
 * @param perShard per-shard stats, indexed by shard
 */
public record MapStats(
        int shards,
        long entries,
        long bytes,
        long mappedBytes,
        long ops,
        long memoryLimit,
        boolean bindingApplied,
        long replaceStallMaxNanos,
        long replaceCount,
        long hits,
        long misses,
        long evictions,
        long expirations,
        List<ShardStats> perShard) {
    /**
     * Hits over reads, or {@code NaN} before any counted read.
     *
     * @return {@code hits / (hits + misses)}
     */
    public double hitRatio() {
        long reads = hits + misses;
        return reads == 0 ? Double.NaN : (double) hits / reads;
    }
}
