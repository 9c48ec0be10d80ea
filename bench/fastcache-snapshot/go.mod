module numashard.dev/bench/fastcache-snapshot

go 1.24.0

require (
	github.com/VictoriaMetrics/fastcache v1.13.2
	golang.org/x/sys v0.34.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang/snappy v1.0.0 // indirect
)
