package io.numashard;

import java.time.Duration;

/**
 * What {@link NumaShardMap#save} did.
 *
 * @param generation increases with every save into the directory
 * @param entries entries written
 * @param bytes bytes written (manifest and data files)
 * @param shards data files written (the map's shard count)
 * @param elapsed until the snapshot was durable
 * @param startStall every shard's lock held to start the save (the snapshot's moment)
 * @param chunkHoldMax the longest hold of one shard's lock by a saver copying a chunk
 * @param beforeImages old states logged by writers that changed parts not yet written
 */
public record SaveReport(long generation, long entries, long bytes, int shards, Duration elapsed,
        Duration startStall, Duration chunkHoldMax, long beforeImages) {
}
