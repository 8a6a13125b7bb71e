package main

import (
	"io/fs"
	"math"
	"testing"
)

// TestMemoryLimitSources: the configured value wins, then the operator's
// GOMEMLIMIT, then 90 % of the cgroup's limit, then of the machine's memory.
func TestMemoryLimitSources(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if s, ok := m[p]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	machine := map[string]string{"/proc/meminfo": "MemTotal:        1048576 kB\nMemFree: 1 kB\n"}
	v2 := map[string]string{"/proc/self/cgroup": "0::/sockudo.service\n", "/sys/fs/cgroup/sockudo.service/memory.max": "2147483648\n",
		"/proc/meminfo": machine["/proc/meminfo"]}
	v2max := map[string]string{"/proc/self/cgroup": "0::/x\n", "/sys/fs/cgroup/x/memory.max": "max\n", "/proc/meminfo": machine["/proc/meminfo"]}
	v1 := map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n"}
	v1none := map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n", "/proc/meminfo": machine["/proc/meminfo"]}
	for _, c := range []struct {
		name   string
		mb     int
		env    map[string]string
		files  map[string]string
		want   int64
		source string
	}{
		{"configured", 300, map[string]string{"GOMEMLIMIT": "1GiB"}, v2, 300 << 20, "memory_limit_mb"},
		{"off", -1, nil, v2, math.MaxInt64, "none (memory_limit_mb -1)"},
		{"GOMEMLIMIT", 0, map[string]string{"GOMEMLIMIT": "1GiB"}, v2, 0, "GOMEMLIMIT"},
		{"cgroup v2", 0, nil, v2, 2 << 30 * 9 / 10, "90% of the cgroup's memory limit"},
		{"cgroup v1", 0, nil, v1, 512 << 20 * 9 / 10, "90% of the cgroup's memory limit"},
		{"v2 unlimited", 0, nil, v2max, 1 << 30 * 9 / 10, "90% of physical memory"},
		{"v1 unlimited", 0, map[string]string{"GOMEMLIMIT": ""}, v1none, 1 << 30 * 9 / 10, "90% of physical memory"},
		{"unknown", 0, nil, nil, 0, "none (memory size unknown)"},
	} {
		got, source := memoryLimit(c.mb, env(c.env), files(c.files))
		if got != c.want || source != c.source {
			t.Errorf("%s: %d (%s), want %d (%s)", c.name, got, source, c.want, c.source)
		}
	}
}

// TestReclaimOncePerBurst: a burst followed by quiet ticks is reclaimed
// once; a steady trickle after it, which also looks quiet and keeps
// growing garbage, is not reclaimed again until the next burst.
func TestReclaimOncePerBurst(t *testing.T) {
	const mib = 1 << 20
	var p reclaimPolicy
	var allocs uint64
	tick := func(alloc, live, objects, free uint64) bool {
		allocs += alloc
		return p.tick(allocs, live, objects, free)
	}
	// A burst: 40 MiB allocated in a tick, never a reclaim while busy.
	if tick(40*mib, 10*mib, 45*mib, 5*mib) {
		t.Fatal("reclaimed during a burst")
	}
	// Quiet, but the garbage is below the threshold: wait, stay armed.
	if tick(mib/4, 10*mib, 10*mib+mib/2, 0) {
		t.Fatal("reclaimed with less garbage than the threshold")
	}
	// Quiet with the burst's garbage: one reclaim.
	if !tick(mib/4, 10*mib, 40*mib, 5*mib) {
		t.Fatal("burst's garbage not reclaimed once quiet")
	}
	// A trickle of 0.5 MiB per tick for a minute: its garbage passes the
	// threshold every few ticks, and is never reclaimed.
	garbage := uint64(0)
	for i := range 60 {
		garbage += mib / 2
		if tick(mib/2, 10*mib, 10*mib+garbage, 2*mib) {
			t.Fatalf("trickle reclaimed at tick %d", i)
		}
	}
	// The next burst arms it again.
	tick(8*mib, 10*mib, 30*mib, 0)
	if !tick(0, 10*mib, 30*mib, 0) {
		t.Fatal("second burst not reclaimed")
	}
}
