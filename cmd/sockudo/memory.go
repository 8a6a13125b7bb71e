package main

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// autoLimitShare is the share of the container's (or machine's) memory
// the automatic soft limit allows the Go runtime. The rest is left for
// what the runtime does not count: kernel socket buffers, page cache and
// the binary itself.
const autoLimitShare = 0.9

// memoryLimit returns the soft memory limit for the runtime and where it
// comes from; 0 leaves the runtime's own (GOMEMLIMIT's) value alone.
// mb is memory_limit_mb: > 0 MiB, -1 none, 0 derived.
func memoryLimit(mb int, getenv func(string) (string, bool), readFile func(string) ([]byte, error)) (int64, string) {
	switch {
	case mb > 0:
		return int64(mb) << 20, "memory_limit_mb"
	case mb < 0:
		return math.MaxInt64, "none (memory_limit_mb -1)"
	}
	if v, ok := getenv("GOMEMLIMIT"); ok && v != "" {
		return 0, "GOMEMLIMIT"
	}
	if n := cgroupLimit(readFile); n > 0 {
		return int64(float64(n) * autoLimitShare), "90% of the cgroup's memory limit"
	}
	if n := physicalMemory(readFile); n > 0 {
		return int64(float64(n) * autoLimitShare), "90% of physical memory"
	}
	return 0, "none (memory size unknown)"
}

// cgroupLimit reads the memory limit of this process's cgroup (v2, then
// v1); 0 when there is none.
func cgroupLimit(readFile func(string) ([]byte, error)) int64 {
	paths := []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}
	if b, err := readFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if dir, ok := strings.CutPrefix(line, "0::"); ok && dir != "/" {
				paths = append([]string{"/sys/fs/cgroup" + dir + "/memory.max"}, paths...)
			}
		}
	}
	for _, p := range paths {
		b, err := readFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max" (v2) and v1's page-rounded MaxInt64 both mean unlimited.
		if err == nil && n > 0 && n < 1<<60 {
			return n
		}
	}
	return 0
}

// physicalMemory reads MemTotal from /proc/meminfo; 0 when unknown.
func physicalMemory(readFile func(string) ([]byte, error)) int64 {
	b, err := readFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Reclaiming after bursts. The collector runs when the heap has doubled
// since the last collection, so a server that goes quiet after a burst
// keeps the burst's garbage, and its pages, until the runtime's two-minute
// forced collection. Once the allocation rate has dropped, one collection
// and a scavenge give it back: once per burst, because a server serving a
// steady trickle below quietRate also looks quiet, and reclaiming it every
// tick gave it a forced collection and a full scavenge every two seconds
// for as long as the trickle lasted (five in the ten seconds of the bench's
// 1,000-channel scenario). The trickle's garbage is the runtime's ordinary
// business.
const (
	reclaimEvery = time.Second
	quietRate    = 1 << 20 // bytes allocated per reclaimEvery below which the server is quiet
	reclaimMin   = 1 << 20 // garbage plus free heap worth a collection, at least
	liveShare    = 8       // ... and at least 1/liveShare of the live heap
)

// reclaimPolicy decides at each tick whether to collect and scavenge.
type reclaimPolicy struct {
	lastAllocs uint64
	// armed is set by a tick that allocated quietRate or more and cleared
	// by the reclaim that follows it.
	armed bool
}

// tick takes the runtime's cumulative allocation count and its heap's live,
// object and free bytes, and reports whether to reclaim now.
func (p *reclaimPolicy) tick(allocs, live, objects, free uint64) bool {
	busy := allocs-p.lastAllocs >= quietRate
	p.lastAllocs = allocs
	if busy {
		p.armed = true
		return false
	}
	if !p.armed || objects+free <= live+max(reclaimMin, live/liveShare) {
		return false
	}
	p.armed = false
	return true
}

// reclaimAfterBursts returns the memory of a burst to the system once the
// server is quiet again, until ctx ends.
func reclaimAfterBursts(ctx context.Context) {
	s := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	t := time.NewTicker(reclaimEvery)
	defer t.Stop()
	var p reclaimPolicy
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(s)
		if p.tick(s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64()) {
			debug.FreeOSMemory()
		}
	}
}
