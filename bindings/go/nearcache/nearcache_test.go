//go:build linux && cgo

package nearcache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// addr is the redis-server the tests use: NUMASHARD_REDIS_ADDR, or one
// TestMain starts from Debian's package on a free loopback port and kills
// at the end.
var addr string

func TestMain(m *testing.M) {
	if os.Getenv("NEARCACHE_CHILD") != "" {
		childReader()
		return
	}
	addr = os.Getenv("NUMASHARD_REDIS_ADDR")
	var srv *exec.Cmd
	if addr == "" {
		if _, err := exec.LookPath("redis-server"); err != nil {
			fmt.Println("nearcache: no redis-server (scripts/setup.sh installs it) and no NUMASHARD_REDIS_ADDR: skipped")
			os.Exit(0)
		}
		var err error
		srv, addr, err = startServer()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Setenv("NUMASHARD_REDIS_ADDR", addr) // for the examples
	}
	code := m.Run()
	if srv != nil {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	}
	os.Exit(code)
}

func startServer() (*exec.Cmd, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	a := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", a); err == nil {
			c.Close()
			return cmd, a, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, "", fmt.Errorf("redis-server on %s did not start", a)
}

func open(t testing.TB) *Cache {
	t.Helper()
	c, err := Open(Config{Servers: []string{addr}, Shards: 2, MemoryLimit: 32 << 20, MaxKeyLen: 1024,
		MaxValueLen: 1 << 20, LocalMaxValueLen: 64 << 10, Heartbeat: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustGet(t *testing.T, c *Cache, key string) (string, bool) {
	t.Helper()
	v, ok, err := c.Get([]byte(key))
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(v), ok
}

func TestReadWriteDelete(t *testing.T) {
	c := open(t)
	k := []byte("go:rw")
	if existed, err := c.Delete(k); err != nil || existed {
		t.Fatalf("Delete of an absent key: %v %v", existed, err)
	}
	if _, ok := mustGet(t, c, "go:rw"); ok {
		t.Fatal("absent key found")
	}
	if err := c.Set(k, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, c, "go:rw"); !ok || v != "hello" {
		t.Fatalf("got %q %v", v, ok)
	}
	// GetInto: too small reports the size and copies nothing.
	buf := []byte("xxx")
	n, ok, err := c.GetInto(k, buf)
	if err != nil || !ok || n != 5 || string(buf) != "xxx" {
		t.Fatalf("GetInto too small: %d %v %v %q", n, ok, err, buf)
	}
	// A value larger than Get's stack buffer, and one larger than the local map takes.
	for _, size := range []int{getStack + 1, 100 << 10} {
		big := bytes.Repeat([]byte{'b'}, size)
		if err := c.Set([]byte("go:big"), big); err != nil {
			t.Fatal(err)
		}
		v, ok, err := c.Get([]byte("go:big"))
		if err != nil || !ok || !bytes.Equal(v, big) {
			t.Fatalf("big value of %d: %v %v %d", size, ok, err, len(v))
		}
	}
	// An empty value is a value.
	if err := c.Set([]byte("go:empty"), nil); err != nil {
		t.Fatal(err)
	}
	if v, ok := mustGet(t, c, "go:empty"); !ok || v != "" {
		t.Fatalf("empty value: %q %v", v, ok)
	}
	// TTL from the server: the local copy expires too.
	if err := c.SetTTL([]byte("go:ttl"), []byte("short"), 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, c, "go:ttl"); !ok {
		t.Fatal("TTL key missing at once")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, ok := mustGet(t, c, "go:ttl"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the TTL key never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := c.Stats()
	if err != nil || st.LocalHits == 0 || st.ServerReads == 0 || st.ServerWrites < 4 || !st.Serving || st.MemoryLimit != 32<<20 {
		t.Fatalf("stats: %+v %v", st, err)
	}
	if existed, err := c.Delete(k); err != nil || !existed {
		t.Fatalf("Delete: %v %v", existed, err)
	}
	if _, ok := mustGet(t, c, "go:rw"); ok {
		t.Fatal("deleted key found")
	}
}

func TestGetMany(t *testing.T) {
	c := open(t)
	keys := make([][]byte, 100)
	want := make([][]byte, 100)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("go:many:%d", i))
		if i%3 == 0 {
			c.Delete(keys[i])
			continue
		}
		// Values up to 300 B: more than GetMany's first guess per key.
		want[i] = bytes.Repeat([]byte{byte('a' + i%26)}, i*3)
		if err := c.Set(keys[i], want[i]); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 2; round++ { // the first reads through or hits, the second hits
		got, err := c.GetMany(keys)
		if err != nil {
			t.Fatal(err)
		}
		for i := range keys {
			if (got[i] == nil) != (want[i] == nil) || !bytes.Equal(got[i], want[i]) {
				t.Fatalf("round %d key %d: got %q want %q", round, i, got[i], want[i])
			}
		}
	}
	if v, err := c.GetMany(nil); err != nil || v != nil {
		t.Fatal("empty batch")
	}
	if _, err := c.GetMany([][]byte{[]byte("ok"), nil}); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("empty key in a batch: %v", err)
	}
}

// Two readers and a writer, thousands of rounds: after the writer's Set
// returned and a reader's Sync, the reader never returns an older value.
// Meanwhile reader goroutines hammer the key and must never see a value go
// back to an older round once a newer one was seen after a barrier.
func TestCoherenceTwoReadersAndAWriter(t *testing.T) {
	w, r1, r2 := open(t), open(t), open(t)
	key := []byte("go:coherent")
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	var stop atomic.Bool
	var floor atomic.Int64 // every round < floor is overwritten and synced on both readers
	var wg sync.WaitGroup
	var stale atomic.Int64
	for _, r := range []*Cache{r1, r2} {
		wg.Add(1)
		go func(r *Cache) {
			defer wg.Done()
			for !stop.Load() {
				f := floor.Load()
				v, ok, err := r.Get(key)
				if err != nil || !ok {
					continue
				}
				n, _ := strconv.Atoi(strings.TrimPrefix(string(v), "v"))
				if int64(n) < f-1 { // f-1 was acknowledged and synced before this Get began
					stale.Add(1)
				}
			}
		}(r)
	}
	var delays []time.Duration
	for i := 0; i < rounds; i++ {
		v := []byte("v" + strconv.Itoa(i))
		if err := w.Set(key, v); err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		if i%50 == 0 {
			// Invalidation delay: from the acknowledged write until r1 serves it without a barrier.
			for {
				got, _, err := r1.Get(key)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Equal(got, v) {
					delays = append(delays, time.Since(acked))
					break
				}
				if time.Since(acked) > 5*time.Second {
					t.Fatal("the invalidation never arrived")
				}
			}
		}
		for _, r := range []*Cache{r1, r2} {
			if err := r.Sync(); err != nil {
				t.Fatal(err)
			}
			got, ok, err := r.Get(key)
			if err != nil || !ok || !bytes.Equal(got, v) {
				t.Fatalf("round %d: after Set and Sync got %q %v %v", i, got, ok, err)
			}
		}
		floor.Store(int64(i + 1))
	}
	stop.Store(true)
	wg.Wait()
	if n := stale.Load(); n != 0 {
		t.Fatalf("%d stale reads after a barrier", n)
	}
	st, _ := r1.Stats()
	if st.Invalidations < uint64(rounds)-1 || st.LocalHits == 0 {
		t.Fatalf("reader stats: %+v", st)
	}
	sort.Slice(delays, func(a, b int) bool { return delays[a] < delays[b] })
	t.Logf("%d rounds; invalidation delay (write acknowledged -> served by the other cache) over %d samples: p50 %v, max %v",
		rounds, len(delays), delays[len(delays)/2], delays[len(delays)-1])
}

// childReader is a second process with its own near cache: for each round
// number read from stdin it syncs, reads the key and prints the value.
func childReader() {
	c, err := Open(Config{Servers: []string{os.Getenv("NEARCACHE_CHILD")}, Shards: 1, MemoryLimit: 8 << 20})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	defer c.Close()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if err := c.Sync(); err != nil {
			fmt.Println("sync:", err)
			continue
		}
		v, ok, err := c.Get([]byte(in.Text()))
		fmt.Printf("%s %v %v\n", v, ok, err)
	}
	st, _ := c.Stats()
	fmt.Printf("hits %d invalidations %d\n", st.LocalHits, st.Invalidations)
}

// Two processes: this one writes, a child process with its own near cache
// reads; after every acknowledged write and the child's Sync, the child
// returns the new value.
func TestTwoProcesses(t *testing.T) {
	w := open(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NEARCACHE_CHILD="+addr)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(stdout)
	key := "go:two-processes"
	for i := 0; i < 500; i++ {
		v := fmt.Sprintf("p%d", i)
		if err := w.Set([]byte(key), []byte(v)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(stdin, key)
		if !out.Scan() {
			t.Fatal("the child stopped")
		}
		if got := out.Text(); got != v+" true <nil>" {
			t.Fatalf("round %d: the child read %q, want %q", i, got, v)
		}
	}
	stdin.Close()
	if !out.Scan() || !strings.HasPrefix(out.Text(), "hits ") {
		t.Fatalf("child summary: %q", out.Text())
	}
	var hits, inv int
	fmt.Sscanf(out.Text(), "hits %d invalidations %d", &hits, &inv)
	if inv < 499 {
		t.Fatalf("the child received %d invalidations", inv)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputAndErrors(t *testing.T) {
	c := open(t)
	if err := c.Set([]byte("go:keep"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(nil); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("empty key: %v", err)
	}
	if err := c.Set(bytes.Repeat([]byte{'k'}, 1025), []byte("v")); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("long key: %v", err)
	}
	err := c.Set([]byte("go:keep"), make([]byte, 1<<20+1))
	var e *Error
	if !errors.Is(err, ErrValueTooLarge) || !errors.As(err, &e) || e.Op != "Set" || !strings.Contains(err.Error(), "max_value_len") {
		t.Fatalf("long value: %v", err)
	}
	if err := c.SetTTL([]byte("go:keep"), []byte("v"), 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("zero TTL: %v", err)
	}
	if v, ok := mustGet(t, c, "go:keep"); !ok || v != "v1" {
		t.Fatalf("a refused write changed the value: %q", v)
	}
	// A server error: WRONGTYPE (a hash written through the Go side is not
	// possible, so provoke it with a key the server holds as a list).
	rc := rawConn(t)
	rc.do(t, "RPUSH", "go:list", "a")
	// The error carries the server's text, from a single read and a batch.
	if _, _, err := c.Get([]byte("go:list")); !errors.Is(err, ErrServer) || !errors.As(err, &e) ||
		e.Op != "Get" || !strings.Contains(e.Detail, "WRONGTYPE") {
		t.Fatalf("WRONGTYPE: %v", err)
	}
	if _, err := c.GetMany([][]byte{[]byte("go:keep"), []byte("go:list")}); !errors.Is(err, ErrServer) ||
		!errors.As(err, &e) || e.Op != "GetMany" || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("WRONGTYPE in a batch: %v", err)
	}
	if _, err := c.Delete(make([]byte, 70<<10)); !errors.Is(err, ErrKeyTooLarge) || !errors.As(err, &e) || e.Detail == "" {
		t.Fatalf("long key: %v", err)
	}
	if v, ok := mustGet(t, c, "go:keep"); !ok || v != "v1" {
		t.Fatal("the cache is unusable after a server error")
	}
	// Open failures.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	if _, err := Open(Config{Servers: []string{dead}, ConnectTimeout: 300 * time.Millisecond}); !errors.Is(err, ErrConnection) {
		t.Fatalf("unreachable server: %v", err)
	}
	if _, err := Open(Config{}); !errors.Is(err, ErrConfig) && !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("no server: %v", err)
	}
	// Closed: every call says so; Close again is nil.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get([]byte("go:keep")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := c.GetMany([][]byte{[]byte("a")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if err := c.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestCloseRacesCalls(t *testing.T) {
	for round := 0; round < 3; round++ {
		c := open(t)
		c.Set([]byte("go:race"), []byte("v"))
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					_, _, err := c.Get([]byte("go:race"))
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		c.Close()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("a call racing Close: %v", err)
		}
	}
}

// rawConn is a minimal RESP client for the test's own server-side setup
// (not the code under test).
type raw struct{ c net.Conn }

func rawConn(t *testing.T) *raw {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{c}
}

func (r *raw) do(t *testing.T, args ...string) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := r.c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(r.c).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "-") {
		t.Fatalf("%v: %q %v", args, line, err)
	}
}

// Go's runtime signals the thread of a goroutine inside a cgo call (async
// preemption, at every GC). A server exchange must survive that: a read
// with a time-out interrupted by a signal is not restarted, and a broken
// exchange would flush the near copy.
func TestGCSignalsDoNotBreakServerExchanges(t *testing.T) {
	c := open(t)
	st0, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	for i := 0; i < 1500; i++ {
		k := []byte("go:gc:" + strconv.Itoa(i%100))
		if err := c.Set(k, k); err != nil {
			t.Fatal(err)
		}
		if err := c.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
	st1, _ := c.Stats()
	if st1.Flushes != st0.Flushes {
		t.Fatalf("the near copy was flushed %d times during GCs (server exchanges broken by signals)", st1.Flushes-st0.Flushes)
	}
}

// GetInto allocates nothing on the Go heap, for a local hit and a read
// through alike: its buffers (the value's, the failure reason's) stay on
// the caller's stack (only a failure allocates, its *Error).
func TestGetIntoDoesNotAllocate(t *testing.T) {
	c := open(t)
	if err := c.Set([]byte("go:alloc"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	var buf [64]byte
	for name, k := range map[string][]byte{"hit": []byte("go:alloc"), "absent, asked from the server": []byte("go:alloc-absent")} {
		if a := testing.AllocsPerRun(200, func() { c.GetInto(k, buf[:]) }); a != 0 {
			t.Errorf("GetInto (%s): %v allocations per call", name, a)
		}
	}
}

// GetInto with the key in the buffer the value is read into (nsr_get
// forbids the overlap; GetInto copies the key aside first): the value read
// is the key's, for a read through and a local hit, and a buffer too small
// is left as it was.
func TestGetIntoKeyOverlapsBuffer(t *testing.T) {
	c := open(t)
	key := []byte("go:overlap-key-0")
	val := bytes.Repeat([]byte("value-of-overlap"), 4) // 64 bytes
	if err := c.Set(key, val); err != nil {
		t.Fatal(err)
	}
	// A second cache has no local copy: its first read goes to the server.
	reader := open(t)
	for _, name := range []string{"read through", "local hit"} {
		buf := make([]byte, 80)
		copy(buf, key)
		n, ok, err := reader.GetInto(buf[:len(key)], buf)
		if err != nil || !ok || n != len(val) || !bytes.Equal(buf[:n], val) {
			t.Errorf("%s: GetInto(buf[:16], buf) = %d %v %v, buf %q", name, n, ok, err, buf[:n])
		}
		copy(buf[8:], key)
		n, ok, err = reader.GetInto(buf[8:8+len(key)], buf)
		if err != nil || !ok || n != len(val) || !bytes.Equal(buf[:n], val) {
			t.Errorf("%s: GetInto(buf[8:24], buf) = %d %v %v, buf %q", name, n, ok, err, buf[:n])
		}
	}
	small := make([]byte, 32)
	copy(small, key)
	n, ok, err := c.GetInto(small[:len(key)], small)
	if err != nil || !ok || n != len(val) || !bytes.Equal(small[:len(key)], key) || !bytes.Equal(small[len(key):], make([]byte, 32-len(key))) {
		t.Errorf("GetInto into a too small, overlapping buffer = %d %v %v, buffer %q", n, ok, err, small)
	}
	if v, ok := mustGet(t, c, string(key)); !ok || v != string(val) {
		t.Errorf("Get after: %q %v", v, ok)
	}
	absent := []byte("go:overlap-absent")
	buf := append(make([]byte, 0, 64), absent...)
	if n, ok, err := c.GetInto(buf[:len(absent)], buf[:64]); ok || err != nil || n != 0 {
		t.Errorf("GetInto(absent) = %d %v %v", n, ok, err)
	}
}

// TestTTLsRoundUp: a TTL lives at least as long as asked, in the C ABI's
// milliseconds, as the numashard package rounds its own.
func TestTTLsRoundUp(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{
		{time.Nanosecond, 1}, {time.Millisecond, 1}, {1500 * time.Microsecond, 2},
		{time.Second, 1000}, {time.Duration(math.MaxInt64), math.MaxInt64/int64(time.Millisecond) + 1},
	} {
		if got := ttlMs(c.d); got != c.want {
			t.Errorf("ttlMs(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}
