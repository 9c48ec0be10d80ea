//go:build linux && cgo && race

package numashard

// raceEnabled: the race detector is on (sync.Pool then drops items at
// random, so pooled buffers are allocated again).
const raceEnabled = true
