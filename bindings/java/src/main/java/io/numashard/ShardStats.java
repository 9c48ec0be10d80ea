package io.numashard;

/**
 * One shard's placement and counters, as {@code ns_shard_stats_get_sized} reports them.
 *
 * @param shard shard index
 * @param node NUMA node of the shard's CPU (OS index)
 * @param memoryNode NUMA node its memory is bound to (differs from node only when misplaced on purpose)
 * @param cpu CPU the shard's owner thread is pinned to
 * @param entries entries stored
 * @param bytes bytes charged for the entries (key, value, per-entry overhead)
 * @param mappedBytes bytes of memory mapped for the shard
 * @param ops operations applied
 * @param queueHighWater most messages the owner found queued at once
 * @param bindingApplied true only when the owner is pinned and all shard memory is bound to its node
 * @param pagesOnNode resident pages of the shard's memory found on {@code memoryNode} (asked of the kernel)
 * @param pagesTotal resident pages of the shard's memory
 * @param hits reads that found their key (counted with eviction or {@link Config.Builder#recordStats})
 * @param misses reads that found no live entry (counted likewise)
 * @param evictions entries evicted to keep within the shard's share of the memory limit
 * @param expirations entries removed because their time to live ran out
 * @param pagesMoved resident pages found off {@code memoryNode} and moved there (a snapshot load checks every
 *     shard it builds)
 * @param indexSlots slots of the shard's index: it doubles past 4/5 of them, and starts with room for the
 *     shard's share of {@link Config.Builder#initialCapacity}
 * @param growHoldMaxNanos longest time, in nanoseconds, the shard's lock was held to double its index (how
 *     long its writers waited for a doubling at most)
 */
public record ShardStats(
        int shard,
        int node,
        int memoryNode,
        int cpu,
        long entries,
        long bytes,
        long mappedBytes,
        long ops,
        long queueHighWater,
        boolean bindingApplied,
        long pagesOnNode,
        long pagesTotal,
        long hits,
        long misses,
        long evictions,
        long expirations,
        long pagesMoved,
        long indexSlots,
        long growHoldMaxNanos) {}
