//go:build linux && cgo

package numashard

import "strconv"

// Status is the outcome of a call into the engine: the C ABI's ns_status.
// Values below 100 are outcomes (not found, exists, ...), 100 and up are
// errors. Values are never reused.
type Status int32

// The statuses of the C ABI (include/numashard.h), with the same values.
const (
	StatusOK              Status = 0
	StatusNotFound        Status = 1
	StatusExists          Status = 2
	StatusMismatch        Status = 3
	StatusBufferTooSmall  Status = 4
	StatusInvalidArgument Status = 100
	StatusKeyTooLarge     Status = 101
	StatusValueTooLarge   Status = 102
	StatusFull            Status = 103
	StatusClosed          Status = 104
	StatusNotACounter     Status = 105
	StatusTopology        Status = 106
	StatusPanic           Status = 107
	StatusResource        Status = 108
)

// String renders the status with the library's own text (ns_status_str).
func (s Status) String() string { return statusText(s) }

// Error is every error this package returns: the failing status and the
// operation that failed. Compare with errors.Is against the sentinel values
// below (ErrClosed, ErrFull, ...): two *Error match when their statuses do.
// errors.As(err, &e) gives the status.
type Error struct {
	Status Status
	Op     string // the method that failed, e.g. "Store"; empty in the sentinels
	// Detail is the engine's explanation where it gives one (snapshots:
	// the file and the reason, such as "No space left on device").
	Detail string
}

func (e *Error) Error() string {
	s := "numashard: " + e.Status.String()
	if e.Op != "" {
		s = "numashard: " + e.Op + ": " + e.Status.String()
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is reports whether target is an *Error with the same status, so that
// errors.Is(err, ErrClosed) holds whatever operation failed.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// Sentinel errors, one per status that a method can return as an error.
var (
	// ErrBufferTooSmall: LoadInto's dst (or a TakeInto buffer) is shorter than
	// the value; the needed size is returned alongside, nothing was copied.
	ErrBufferTooSmall = &Error{Status: StatusBufferTooSmall}
	// ErrInvalidArgument: an argument the engine rejects (bad config, bad op kind).
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	// ErrKeyTooLarge: the key is longer than Config.MaxKeyLen.
	ErrKeyTooLarge = &Error{Status: StatusKeyTooLarge}
	// ErrValueTooLarge: the value is longer than Config.MaxValueLen.
	ErrValueTooLarge = &Error{Status: StatusValueTooLarge}
	// ErrFull: storing would exceed Config.MemoryLimit; nothing changed.
	ErrFull = &Error{Status: StatusFull}
	// ErrClosed: the map was closed (by this or another goroutine).
	ErrClosed = &Error{Status: StatusClosed}
	// ErrNotACounter: Add found a stored value that is not 8 bytes.
	ErrNotACounter = &Error{Status: StatusNotACounter}
	// ErrTopology: the topology could not be loaded or the placement is impossible.
	ErrTopology = &Error{Status: StatusTopology}
	// ErrPanic: the engine caught an internal panic (a bug: please report it).
	ErrPanic = &Error{Status: StatusPanic}
	// ErrResource: the operating system refused memory or threads.
	ErrResource = &Error{Status: StatusResource}
)

// errorOf turns a status into the error a method returns, nil for OK.
// Outcome statuses (not found, exists, mismatch) are handled by the callers
// before they get here; if one slips through it still becomes an *Error.
func errorOf(op string, s Status) error {
	if s == StatusOK {
		return nil
	}
	return &Error{Status: s, Op: op}
}

func unknownStatus(s Status) string { return "unknown status " + strconv.Itoa(int(s)) }
