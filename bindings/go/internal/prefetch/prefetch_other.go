//go:build !amd64

package prefetch

func pair(addr uintptr) {}
