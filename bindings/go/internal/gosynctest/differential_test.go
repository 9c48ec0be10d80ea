//go:build linux && cgo

package sync_test

import (
	"math/rand"
	"reflect"
	"sync"
	"testing"
)

// syncMapShape is what the differential drives on both maps.
type syncMapShape interface {
	Load(key any) (any, bool)
	Store(key, value any)
	LoadOrStore(key, value any) (any, bool)
	LoadAndDelete(key any) (any, bool)
	Delete(key any)
	Swap(key, value any) (any, bool)
	CompareAndSwap(key, old, new any) bool
	CompareAndDelete(key, old any) bool
	Range(f func(key, value any) bool)
	Clear()
}

// TestDifferentialCompareAndSwapDelete runs the same random calls on a
// sync.Map and on NSMap and compares every result and the final contents.
// Unlike the toolchain's generator (whose CompareAndSwap and
// CompareAndDelete are given values never stored, so never succeed), half
// of the compare calls here are given the value the model holds for the
// key, so they succeed; the test checks that hundreds did.
func TestDifferentialCompareAndSwapDelete(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	keys := []any{"a", "b", "c", 1, 2, int64(3), nil}
	values := []any{"x", "y", "", 7, int64(8), struct{}{}, nil}
	pick := func(s []any) any { return s[r.Intn(len(s))] }
	casOK, cadOK := 0, 0
	for round := 0; round < 50; round++ {
		var want sync.Map
		var got NSMap
		maps := []syncMapShape{&want, &got}
		for step := 0; step < 400; step++ {
			k, v := pick(keys), pick(values)
			// The expected value: what the model holds (when present) half
			// of the time, another value otherwise.
			old := pick(values)
			if cur, ok := want.Load(k); ok && r.Intn(2) == 0 {
				old = cur
			}
			var res [2][]any
			op := r.Intn(10)
			clearNow := r.Intn(20) == 0 // drawn once for both maps
			for i, m := range maps {
				switch op {
				case 0:
					a, b := m.Load(k)
					res[i] = []any{a, b}
				case 1:
					m.Store(k, v)
				case 2:
					a, b := m.LoadOrStore(k, v)
					res[i] = []any{a, b}
				case 3:
					a, b := m.LoadAndDelete(k)
					res[i] = []any{a, b}
				case 4:
					m.Delete(k)
				case 5:
					a, b := m.Swap(k, v)
					res[i] = []any{a, b}
				case 6, 7:
					res[i] = []any{m.CompareAndSwap(k, old, v)}
				case 8:
					res[i] = []any{m.CompareAndDelete(k, old)}
				case 9:
					if clearNow {
						m.Clear()
					}
				}
			}
			if !reflect.DeepEqual(res[0], res[1]) {
				t.Fatalf("round %d step %d op %d key %#v value %#v old %#v: sync.Map %#v, NSMap %#v",
					round, step, op, k, v, old, res[0], res[1])
			}
			if len(res[0]) == 1 && res[0][0] == true {
				if op == 8 {
					cadOK++
				} else {
					casOK++
				}
			}
		}
		if w, g := contents(&want), contents(&got); !reflect.DeepEqual(w, g) {
			t.Fatalf("round %d: final contents differ: sync.Map %v, NSMap %v", round, w, g)
		}
	}
	t.Logf("CompareAndSwap succeeded %d times, CompareAndDelete %d times", casOK, cadOK)
	if casOK < 200 || cadOK < 100 {
		t.Fatalf("too few successful compares (CAS %d, CAD %d): the test does not exercise them", casOK, cadOK)
	}
}

func contents(m syncMapShape) map[any]any {
	out := map[any]any{}
	m.Range(func(k, v any) bool {
		out[k] = v
		return true
	})
	return out
}
