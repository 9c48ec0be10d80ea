//go:build linux && cgo

package numashard

/*
#include "numashard.h"
*/
import "C"

import (
	"runtime"
	"time"
)

// ShardStats is one shard's placement and counters.
type ShardStats struct {
	Shard      uint32
	Node       uint32 // NUMA node of the shard's CPU (OS index)
	MemoryNode uint32 // NUMA node its memory is bound to
	CPU        uint32 // CPU the owner thread is pinned to
	Entries    uint64
	Bytes      uint64 // bytes the entries are charged (key, value, overhead)
	// MappedBytes is the memory mapped for the shard (index and records).
	MappedBytes    uint64
	Ops            uint64 // operations applied
	QueueHighWater uint64 // most messages found queued at once by the owner
	// BindingApplied is true only when the topology is this machine's, the
	// owner is pinned to CPU and every region is bound to MemoryNode: the
	// map never claims a locality it lacks.
	BindingApplied bool
	PagesOnNode    uint64 // resident pages found on MemoryNode (asked of the kernel)
	PagesTotal     uint64 // resident pages of the shard's memory
	CacheStats
	// PagesMoved counts resident pages found off MemoryNode and moved there
	// (OpenSnapshot checks every shard it builds).
	PagesMoved uint64
	// IndexSlots is the size of the shard's index: it doubles past 4/5 of
	// it, and starts with room for the shard's share of
	// Config.InitialCapacity.
	IndexSlots uint64
	// GrowHoldMax is the longest the shard's lock was held to double its
	// index: how long its writers waited for a doubling at most.
	GrowHoldMax time.Duration
}

// CacheStats are the counters of cache use, per shard and in total. Hits
// and Misses count the reads (Load and its relatives, batch gets) when the
// map evicts or Config.RecordStats is set; they stay 0 otherwise.
type CacheStats struct {
	Hits        uint64 // reads that returned their key's value (a LoadInto into too small a buffer counts nothing; its retry does)
	Misses      uint64 // reads that found no live entry
	Evictions   uint64 // entries evicted to keep within the memory limit
	Expirations uint64 // entries removed because their time to live ran out
}

// Stats is the map's totals and every shard's stats.
type Stats struct {
	Shards         uint32
	Entries        uint64
	Bytes          uint64
	MappedBytes    uint64
	Ops            uint64
	MemoryLimit    uint64 // 0 = none
	BindingApplied bool   // every shard's binding applied
	// ReplaceStallMaxNs is the longest time a ReplaceAll switch held
	// readers and writers off, in nanoseconds.
	ReplaceStallMaxNs uint64
	ReplaceCount      uint64 // completed ReplaceAll calls
	CacheStats
	PerShard []ShardStats
}

// Stats returns the map's statistics and every shard's placement.
func (m *Map) Stats() (Stats, error) {
	var c C.ns_stats
	s := Status(C.ns_stats_get(m.h, &c))
	runtime.KeepAlive(m)
	if s != StatusOK {
		return Stats{}, errorOf("Stats", s)
	}
	st := Stats{
		Shards:            uint32(c.shards),
		Entries:           uint64(c.entries),
		Bytes:             uint64(c.bytes),
		MappedBytes:       uint64(c.mapped_bytes),
		Ops:               uint64(c.ops),
		MemoryLimit:       uint64(c.memory_limit),
		BindingApplied:    bool(c.binding_applied),
		ReplaceStallMaxNs: uint64(c.replace_stall_max_ns),
		ReplaceCount:      uint64(c.replace_count),
		CacheStats:        CacheStats{uint64(c.hits), uint64(c.misses), uint64(c.evictions), uint64(c.expirations)},
	}
	st.PerShard = make([]ShardStats, st.Shards)
	for i := range st.PerShard {
		var sh C.ns_shard_stats
		s := Status(C.ns_shard_stats_get_sized(m.h, C.uint32_t(i), &sh, C.sizeof_ns_shard_stats))
		runtime.KeepAlive(m)
		if s != StatusOK {
			return Stats{}, errorOf("Stats", s)
		}
		st.PerShard[i] = ShardStats{
			Shard:          uint32(sh.shard),
			Node:           uint32(sh.node),
			MemoryNode:     uint32(sh.memory_node),
			CPU:            uint32(sh.cpu),
			Entries:        uint64(sh.entries),
			Bytes:          uint64(sh.bytes),
			MappedBytes:    uint64(sh.mapped_bytes),
			Ops:            uint64(sh.ops),
			QueueHighWater: uint64(sh.queue_high_water),
			BindingApplied: bool(sh.binding_applied),
			PagesOnNode:    uint64(sh.pages_on_node),
			PagesTotal:     uint64(sh.pages_total),
			CacheStats:     CacheStats{uint64(sh.hits), uint64(sh.misses), uint64(sh.evictions), uint64(sh.expirations)},
			PagesMoved:     uint64(sh.pages_moved),
			IndexSlots:     uint64(sh.index_slots),
			GrowHoldMax:    time.Duration(sh.grow_hold_max_ns),
		}
	}
	return st, nil
}

// PrometheusText renders every statistic in the Prometheus text exposition
// format (metric names prefixed numashard_), ready to serve on /metrics.
func (m *Map) PrometheusText() (string, error) {
	buf := make([]byte, 0, 4096)
	n, grown, s := m.readGrowing(readStatsText, nil, nil, buf)
	if s != StatusOK {
		return "", errorOf("PrometheusText", s)
	}
	if grown != nil {
		buf = grown
	}
	return string(buf[:n-1]), nil // n counts the terminating NUL
}
