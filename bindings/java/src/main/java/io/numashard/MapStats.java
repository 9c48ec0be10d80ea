package io.numashard;

import java.util.List;

/**
 * Map totals and every shard's stats, from {@code ns_stats_get} and {@code ns_shard_stats_get}.
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
        List<ShardStats> perShard) {}
