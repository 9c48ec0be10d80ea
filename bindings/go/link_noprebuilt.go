//go:build linux && cgo && !amd64 && !arm64 && !numashard_dev && !numashard_shared

package numashard

// The module carries a prebuilt engine for linux/amd64 and linux/arm64
// only. Elsewhere the build stops here with an error that names the way
// out.
var _ = numashard_has_no_prebuilt_library_for_this_architecture__build_libnumashard_from_source_and_use_tag_numashard_shared
