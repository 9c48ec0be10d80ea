//go:build linux && cgo && !amd64 && !arm64 && !numashard_dev

package nearcache

// The module carries a prebuilt libnumashard_redis for linux/amd64 and
// linux/arm64 only.
var _ = nearcache_has_no_prebuilt_library_for_this_architecture__build_libnumashard_redis_from_source_and_use_tag_numashard_dev
