//go:build linux && cgo

package numashard

/*
#include <stdlib.h>
#include "numashard.h"
*/
import "C"

import (
	"errors"
	"runtime"
	"time"
	"unsafe"
)

// The snapshot statuses of the C ABI, with the same values.
const (
	StatusIO              Status = 120
	StatusNoSnapshot      Status = 121
	StatusNotASnapshot    Status = 122
	StatusSnapshotVersion Status = 123
	StatusSnapshotCorrupt Status = 124
	StatusSnapshotBusy    Status = 125
)

// The values above equal the C header's (a mismatch fails to compile: a
// negative array index).
func _() {
	var same [1]struct{}
	_ = same[int(StatusIO)-int(C.NS_ERR_IO)]
	_ = same[int(StatusNoSnapshot)-int(C.NS_ERR_NO_SNAPSHOT)]
	_ = same[int(StatusNotASnapshot)-int(C.NS_ERR_NOT_A_SNAPSHOT)]
	_ = same[int(StatusSnapshotVersion)-int(C.NS_ERR_SNAPSHOT_VERSION)]
	_ = same[int(StatusSnapshotCorrupt)-int(C.NS_ERR_SNAPSHOT_CORRUPT)]
	_ = same[int(StatusSnapshotBusy)-int(C.NS_ERR_SNAPSHOT_BUSY)]
}

// Sentinel errors of Save and OpenSnapshot (compare with errors.Is; the
// returned *Error's Detail names the file and the reason).
var (
	// ErrIO: the operating system failed a snapshot read or write (no space
	// left, permission denied...); a failed Save leaves the previous snapshot.
	ErrIO = &Error{Status: StatusIO}
	// ErrNoSnapshot: the directory holds no snapshot.
	ErrNoSnapshot = &Error{Status: StatusNoSnapshot}
	// ErrNotASnapshot: a file is not a numashard snapshot (a foreign file).
	ErrNotASnapshot = &Error{Status: StatusNotASnapshot}
	// ErrSnapshotVersion: the snapshot's format version is not supported.
	ErrSnapshotVersion = &Error{Status: StatusSnapshotVersion}
	// ErrSnapshotCorrupt: checksum mismatch, truncation or bad structure.
	ErrSnapshotCorrupt = &Error{Status: StatusSnapshotCorrupt}
	// ErrSnapshotBusy: another save into the same map or directory is running.
	ErrSnapshotBusy = &Error{Status: StatusSnapshotBusy}
)

// SaveReport is what a Save did.
type SaveReport struct {
	Generation   uint64        // increases with every save into the directory
	Entries      uint64        // entries written
	Bytes        uint64        // bytes written (manifest and data files)
	Shards       int           // data files written (the map's shard count)
	Elapsed      time.Duration // until the snapshot was durable
	StartStall   time.Duration // every shard's lock held to start (the snapshot's moment)
	ChunkHoldMax time.Duration // longest hold of one shard's lock copying a chunk
	BeforeImages uint64        // old states logged by writers that changed unwritten parts
}

// snapshotMessageSize bounds the engine's explanation of a failed snapshot call.
const snapshotMessageSize = 512

// snapshotError is errorOf with the engine's explanation attached.
func snapshotError(op string, s Status, msg []C.char) error {
	err := errorOf(op, s)
	var e *Error
	if errors.As(err, &e) {
		e.Detail = C.GoString(&msg[0])
	}
	return err
}

// Save writes the whole map into dir (created if needed) as a snapshot of
// one moment: exactly the writes that took effect before Save started, on
// every shard. Stores, deletes and the rest keep working meanwhile; a writer
// waits at most for the start or one chunk copy (see SaveReport). Each shard
// is written in parallel by a thread on its CPU; files go to temporary names,
// are fsynced and renamed, and the manifest is renamed over the previous one
// last, so a crash at any moment leaves the previous snapshot or this one.
// Errors: ErrIO (the previous snapshot stays), ErrSnapshotBusy,
// ErrSnapshotCorrupt (the directory names generation 2^64-1), ErrClosed.
func (m *Map) Save(dir string) (SaveReport, error) {
	if dir == "" || hasNUL(dir) {
		return SaveReport{}, &Error{Status: StatusInvalidArgument, Op: "Save"}
	}
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	var r C.ns_save_report
	msg := make([]C.char, snapshotMessageSize)
	s := Status(C.ns_map_save(m.h, cdir, &r, &msg[0], C.size_t(len(msg))))
	runtime.KeepAlive(m)
	if s != StatusOK {
		return SaveReport{}, snapshotError("Save", s, msg)
	}
	return SaveReport{
		Generation:   uint64(r.generation),
		Entries:      uint64(r.entries),
		Bytes:        uint64(r.bytes),
		Shards:       int(r.shards),
		Elapsed:      time.Duration(r.elapsed_ns),
		StartStall:   time.Duration(r.start_stall_ns),
		ChunkHoldMax: time.Duration(r.chunk_hold_max_ns),
		BeforeImages: uint64(r.before_images),
	}, nil
}

// OpenSnapshot opens a new map configured by cfg holding the snapshot saved
// in dir. Each shard is built in parallel by a thread on its CPU, in its
// node's memory; the snapshot may come from a map with another shard count,
// topology or hash seed. Entries whose expiry deadline has passed are not
// loaded. Every block is checked before use and no map is returned on any
// error: ErrNoSnapshot, ErrNotASnapshot, ErrSnapshotVersion,
// ErrSnapshotCorrupt, ErrIO, ErrKeyTooLarge / ErrValueTooLarge (entries above
// cfg's limits), ErrFull (over cfg.MemoryLimit without eviction), and Open's.
func OpenSnapshot(dir string, cfg Config) (*Map, error) {
	if dir == "" || hasNUL(dir) {
		return nil, &Error{Status: StatusInvalidArgument, Op: "OpenSnapshot"}
	}
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	msg := make([]C.char, snapshotMessageSize)
	var failed Status
	m, err := openWith(cfg, "OpenSnapshot", func(c *C.ns_config, h **C.ns_map) Status {
		failed = Status(C.ns_map_open_snapshot(c, cdir, h, &msg[0], C.size_t(len(msg))))
		return failed
	})
	if err != nil && failed != StatusOK {
		return nil, snapshotError("OpenSnapshot", failed, msg)
	}
	return m, err
}
