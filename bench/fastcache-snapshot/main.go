// Command fastcache-snapshot times fastcache's SaveToFile / LoadFromFile on
// the snapshot workload's shape (N entries, 16-byte keys, 32-byte values),
// for comparison with numashard's save and load in the same run
// (scripts/bench-snapshot.sh runs both). Prints one JSON object.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"golang.org/x/sys/unix"
)

// key writes key i: 16 bytes, distinct for every i (a bijective mix of i, then i).
func key(buf []byte, i uint64) []byte {
	x := i*0x9E3779B97F4A7C15 + 0x6e756d61
	x ^= x >> 31
	binary.LittleEndian.PutUint64(buf[0:8], x)
	binary.LittleEndian.PutUint64(buf[8:16], i)
	return buf[:16]
}

// dropCached asks the kernel to forget the files' cached pages, so a load reads the disk.
func dropCached(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}
}

// cpuSeconds is the CPU time the process has used (every thread, user + system).
func cpuSeconds() float64 {
	var u unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &u)
	return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
}

func main() {
	n := flag.Uint64("entries", 10_000_000, "entries")
	valueSize := flag.Int("value-size", 32, "value bytes")
	dir := flag.String("dir", "target/fastcache-snapshot", "directory for the cache files (removed after)")
	maxBytes := flag.Int("max-bytes", 2<<30, "fastcache size limit in bytes")
	flag.Parse()
	_ = os.RemoveAll(*dir)
	defer os.RemoveAll(*dir)

	c := fastcache.New(*maxBytes)
	k := make([]byte, 16)
	v := make([]byte, *valueSize)
	t := time.Now()
	// Every key its own value (one repeated value would compress to nothing).
	for i := uint64(0); i < *n; i++ {
		x := i + 1
		for j := range v {
			x = x*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
			v[j] = byte(x >> 56)
		}
		c.Set(key(k, i), v)
	}
	fill := time.Since(t)
	var s fastcache.Stats
	c.UpdateStats(&s)
	if s.EntriesCount != *n {
		fmt.Fprintf(os.Stderr, "fastcache holds %d entries, expected %d (raise -max-bytes)\n", s.EntriesCount, *n)
		os.Exit(1)
	}
	t = time.Now()
	if err := c.SaveToFileConcurrent(*dir, runtime.GOMAXPROCS(0)); err != nil {
		fmt.Fprintln(os.Stderr, "save:", err)
		os.Exit(1)
	}
	save := time.Since(t)
	c.Reset()
	c = nil
	runtime.GC()

	var bytes int64
	entries, _ := os.ReadDir(*dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			bytes += info.Size()
		}
	}
	load := func() (time.Duration, float64) {
		t, c := time.Now(), cpuSeconds()
		l, err := fastcache.LoadFromFile(*dir)
		d, cpu := time.Since(t), cpuSeconds()-c
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		var s fastcache.Stats
		l.UpdateStats(&s)
		if s.EntriesCount != *n {
			fmt.Fprintf(os.Stderr, "loaded %d entries, expected %d\n", s.EntriesCount, *n)
			os.Exit(1)
		}
		if got := l.Get(nil, key(k, *n/2)); len(got) != *valueSize {
			fmt.Fprintln(os.Stderr, "a loaded key is missing")
			os.Exit(1)
		}
		l.Reset()
		runtime.GC()
		return d, cpu
	}
	dropCached(*dir)
	cold, coldCPU := load()
	warm, warmCPU := load()
	out, _ := json.Marshal(map[string]any{
		"engine": "fastcache", "entries": *n, "key_size": 16, "value_size": *valueSize, "bytes": bytes,
		"fill_s": fill.Seconds(), "save_s": save.Seconds(), "load_cold_s": cold.Seconds(), "load_warm_s": warm.Seconds(),
		"load_cold_cpu_s": coldCPU, "load_warm_cpu_s": warmCPU,
		"gomaxprocs": runtime.GOMAXPROCS(0),
	})
	fmt.Println(string(out))
}
