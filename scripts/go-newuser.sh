#!/usr/bin/env bash
# Tries the Go module as a new user would: outside the repository, in a
# module of its own, `go get github.com/numashard/numashard/bindings/go` at
# a version tag, then build and run scripts/go-newuser/main.go -- with no
# Rust toolchain on the PATH, an empty module cache and no module proxy.
#
# A bare clone of the commit under test (HEAD, or NUMASHARD_TEST_COMMIT)
# stands in for the public repository: git's url.<clone>.insteadOf points
# the module's address at it, and the Go command fetches it exactly as it
# would from the real one (a tag bindings/go/vX.Y.Z selects the module in
# the subdirectory; the module zip holds what go get fetches: no nested
# module such as bindings/go/bench, nothing outside bindings/go).
# Also checked: the same programs built for linux/arm64 run (under
# qemu-user), `go mod vendor` keeps the prebuilt library, and the
# in-repository tag (numashard_dev) names the command that builds the
# library it links. Committed state only: commit before running it.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
commit="${NUMASHARD_TEST_COMMIT:-$(git rev-parse HEAD)}"
version=v0.0.0-newuser
go_bin="$(dirname "$(command -v go || echo /usr/local/go/bin/go)")"

tmp="$(mktemp -d)"
cleanup() { chmod -R u+w "$tmp" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

git clone -q --bare --no-local "$root" "$tmp/numashard.git"
git -C "$tmp/numashard.git" tag "bindings/go/$version" "$commit"

cat >"$tmp/gitconfig" <<EOF
[url "file://$tmp/numashard.git"]
	insteadOf = https://github.com/numashard/numashard
EOF

# A clean environment: PATH without cargo or rustc, nothing of this
# repository's Go settings, a private module cache, no proxy, no checksum
# database (the module is private to this test), no toolchain download.
newuser() {
  env -i HOME="$tmp/home" PATH="$go_bin:/usr/local/bin:/usr/bin:/bin" \
    GIT_CONFIG_GLOBAL="$tmp/gitconfig" GIT_CONFIG_NOSYSTEM=1 \
    GOPATH="$tmp/gopath" GOMODCACHE="$tmp/gopath/pkg/mod" GOCACHE="${GOCACHE:-$(go env GOCACHE)}" \
    GOPROXY=off GOPRIVATE=github.com/numashard GOFLAGS=-mod=mod GOTOOLCHAIN=local \
    "$@"
}
mkdir -p "$tmp/home" "$tmp/app"
if newuser sh -c 'command -v cargo || command -v rustc'; then
  echo "go-newuser: a Rust toolchain is on the clean PATH"
  exit 1
fi

cd "$tmp/app"
cp "$root/scripts/go-newuser/main.go" .
newuser go mod init example.com/newuser >/dev/null 2>&1
newuser go get "github.com/numashard/numashard/bindings/go@$version"
moddir="$(newuser go list -m -f '{{.Dir}}' github.com/numashard/numashard/bindings/go)"
echo "module fetched into the module cache: $(du -sh "$moddir" | cut -f1), $(find "$moddir" -type f | wc -l) files"
if [ -e "$moddir/bench" ] || [ -e "$moddir/../../Cargo.toml" ]; then
  echo "go-newuser: the module carries the benchmark module or sits inside a repository checkout"
  exit 1
fi
if newuser go list -m all | grep -v -e '^example.com/newuser$' -e '^github.com/numashard/numashard/bindings/go '; then
  echo "go-newuser: the user's module graph holds more than numashard (above)"
  exit 1
fi
newuser go build -o newuser .
out="$(./newuser)"
echo "$out"
grep -q '^newuser: OK' <<<"$out"

# Package nearcache (the near cache in front of Redis) from the same module,
# with its own prebuilt library, linked into one program beside package
# numashard; no server here: Open must fail with a connection error.
mkdir near
cat >near/main.go <<'GO'
package main

import (
	"errors"
	"fmt"
	"os"

	numashard "github.com/numashard/numashard/bindings/go"
	"github.com/numashard/numashard/bindings/go/nearcache"
)

func main() {
	m, err := numashard.Open(numashard.Config{Shards: 1})
	if err != nil {
		fmt.Println("numashard:", err)
		os.Exit(1)
	}
	defer m.Close()
	_, err = nearcache.Open(nearcache.Config{Servers: []string{"127.0.0.1:1"}})
	if !errors.Is(err, nearcache.ErrConnection) {
		fmt.Println("nearcache: expected a connection error, got", err)
		os.Exit(1)
	}
	fmt.Println("newuser nearcache: OK")
}
GO
newuser go build -o newuser-near ./near
./newuser-near | grep -q '^newuser nearcache: OK'
echo "nearcache beside numashard: OK"

# The same two programs for linux/arm64, cross-built (Debian's aarch64 gcc)
# and run under qemu-user: the module's arm64 libraries, as a user on such a
# machine gets them.
newuser env CGO_ENABLED=1 GOARCH=arm64 CC=aarch64-linux-gnu-gcc go build -o newuser-arm64 .
newuser env CGO_ENABLED=1 GOARCH=arm64 CC=aarch64-linux-gnu-gcc go build -o newuser-near-arm64 ./near
readelf -h newuser-arm64 | grep -q 'Machine:.*AArch64' || { echo "go-newuser: newuser-arm64 is not an arm64 program"; exit 1; }
timeout -k 10 5m qemu-aarch64 ./newuser-arm64 | grep -q '^newuser: OK'
timeout -k 10 5m qemu-aarch64 ./newuser-near-arm64 | grep -q '^newuser nearcache: OK'
echo "linux/arm64 (qemu-user): both programs OK"

# go mod vendor keeps the library (it lives in an imported package's directory).
newuser go mod vendor
newuser go build -mod=vendor -o newuser-vendored .
./newuser-vendored | grep -q '^newuser: OK'
newuser go build -mod=vendor -o newuser-near-vendored ./near
./newuser-near-vendored | grep -q '^newuser nearcache: OK'
echo "vendored build: OK"

# Outside the repository the in-repository tag cannot find its library, and
# says how to build it.
out="$(newuser go build -mod=mod -tags numashard_dev -o /dev/null . 2>&1 || true)"
grep -q 'cargo build --release -p numashard-ffi' <<<"$out" || {
  echo "$out"
  echo "go-newuser: -tags numashard_dev without the library does not name the command that builds it"
  exit 1
}
echo "missing library (-tags numashard_dev): the error names cargo build --release -p numashard-ffi"
