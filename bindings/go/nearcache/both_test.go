//go:build linux && (amd64 || arm64) && cgo && !numashard_dev

package nearcache

import (
	"testing"

	numashard "github.com/numashard/numashard/bindings/go"
)

// The prebuilt libraries of both packages link into one program: a map and
// a near cache side by side (each library keeps its own Rust runtime; only
// its API symbols are global).
func TestLinksBesidePackageNumashard(t *testing.T) {
	m, err := numashard.Open(numashard.Config{Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := open(t)
	if err := m.Store([]byte("k"), []byte("map")); err != nil {
		t.Fatal(err)
	}
	if err := c.Set([]byte("go:both"), []byte("near")); err != nil {
		t.Fatal(err)
	}
	mv, ok1, err1 := m.Load([]byte("k"))
	nv, ok2, err2 := c.Get([]byte("go:both"))
	if string(mv) != "map" || string(nv) != "near" || !ok1 || !ok2 || err1 != nil || err2 != nil {
		t.Fatalf("map %q %v %v, near cache %q %v %v", mv, ok1, err1, nv, ok2, err2)
	}
}
