#!/usr/bin/env bash
# Runs the Go toolchain's own sync.Map tests against numashard: copies
# src/sync/map_test.go and map_reference_test.go of the installed Go
# (`go env GOROOT`) into bindings/go/internal/gosynctest for the run only
# (never committed: no third-party code in the repository), with every
# sync.Map replaced by NSMap (the adapter in adapter_test.go) and the parts
# that need the standard library's internal packages removed (the
# HashTrieMap peer of internal/sync; internal/testenv gets a stand-in),
# then runs them with the package's own differential test. Extra arguments
# go to `go test` (e.g. -race -short).
set -euo pipefail
cd "$(dirname "$0")/../bindings/go/internal/gosynctest"
export PATH="/usr/local/go/bin:$PATH"
src="$(go env GOROOT)/src/sync"
copies=(gosync_map_test.go gosync_map_reference_test.go)
trap 'rm -f "${copies[@]}"' EXIT

# copy SRC DST: the rewritten copy, with a header saying where it came from.
copy() {
  {
    echo "// Code copied by scripts/go-synctests.sh from \$GOROOT/src/sync/$1 ($(go env GOVERSION)) for one test run; DO NOT COMMIT."
    echo
    echo "//go:build linux && cgo"
    echo
    awk '
      # Drop the HashTrieMap peer (internal/sync is not importable here).
      /^func (applyHashTrieMap|TestMapMatchesHashTrieMap)\(/ { skip = 1 }
      skip { if ($0 == "}") skip = 0; next }
      /isync "internal\/sync"/ || /"internal\/testenv"/ || /isync\.HashTrieMap/ { next }
      { gsub(/sync\.Map/, "NSMap"); print }
    ' "$src/$1"
  } >"$2"
}
copy map_test.go gosync_map_test.go
copy map_reference_test.go gosync_map_reference_test.go
if grep -n 'isync\|internal/' "${copies[@]}"; then
  echo "go-synctests: the toolchain's tests use more internal packages than this script removes (above)"
  exit 1
fi
# Every test of the copies must run: list them, then check each passed.
want="$(grep -ho '^func Test[A-Za-z0-9_]*' "${copies[@]}" differential_test.go | sed 's/^func //' | sort)"
echo "toolchain sync.Map tests: $(echo "$want" | tr '\n' ' ')"
out="$(go test -count=1 -v "$@" . 2>&1)" || { echo "$out" | tail -40; exit 1; }
passed="$(grep -o '^--- PASS: Test[A-Za-z0-9_]*' <<<"$out" | sed 's/^--- PASS: //' | sort)"
if [ "$want" != "$passed" ]; then
  diff <(echo "$want") <(echo "$passed") || true
  echo "go-synctests: not every test above passed"
  exit 1
fi
echo "$(echo "$passed" | wc -l) tests passed: $(echo "$passed" | tr '\n' ' ')"
