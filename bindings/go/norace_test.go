//go:build linux && cgo && !race

package numashard

const raceEnabled = false
