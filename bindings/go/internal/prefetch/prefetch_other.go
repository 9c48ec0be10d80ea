//go:build !amd64 && !arm64

package prefetch

func pair(addr uintptr) {}

func three(a, b uintptr) {}
