package overlap

import "testing"

func TestBytes(t *testing.T) {
	buf := make([]byte, 64)
	other := make([]byte, 8)
	cases := []struct {
		name string
		a, b []byte
		want bool
	}{
		{"same slice", buf, buf, true},
		{"prefix", buf[:16], buf, true},
		{"inside", buf[20:30], buf[:64], true},
		{"last byte of a is first of b", buf[:17], buf[16:32], true},
		{"adjacent", buf[:16], buf[16:32], false},
		{"adjacent, reversed", buf[16:32], buf[:16], false},
		{"spare capacity", buf[40:48], buf[:0:64][32:64], true},
		{"another array", other, buf, false},
		{"empty a", buf[8:8], buf, false},
		{"empty b", buf, buf[:0], false},
		{"nil", nil, buf, false},
	}
	for _, c := range cases {
		if got := Bytes(c.a, c.b); got != c.want {
			t.Errorf("%s: Bytes = %v, want %v", c.name, got, c.want)
		}
		if got := Bytes(c.b, c.a); got != c.want {
			t.Errorf("%s (swapped): Bytes = %v, want %v", c.name, got, c.want)
		}
	}
}
