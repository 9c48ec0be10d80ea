//go:build !amd64

package prefetch

func pair(addr uintptr) {}

func three(a, b uintptr) {}
