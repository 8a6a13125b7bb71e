package loadgen

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clkTck is USER_HZ; 100 on every Linux ABI Go supports.
const clkTck = 100

// procCPU returns the user+system CPU time of pid in µs (0 when unknown).
func procCPU(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 (1-based), i.e. 11 and 12 after ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return (u + s) * 1_000_000 / clkTck
}

// procRSS returns VmRSS of pid in KiB.
func procRSS(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return 0
}

// SelfCPU returns this process's user+system CPU in µs (getrusage).
func SelfCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}

// gcStats is the loader's GC activity over a window.
type gcStats struct {
	Count      int64 `json:"count"`
	PauseTotUs int64 `json:"pause_total_us"`
	PauseMaxUs int64 `json:"pause_max_us"`
}

type gcMark struct {
	num   uint32
	total uint64
}

func gcNow() gcMark {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return gcMark{ms.NumGC, ms.PauseTotalNs}
}

// gcSince reports the GCs after m (max pause over the last ≤256 cycles).
func gcSince(m gcMark) gcStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g := gcStats{Count: int64(ms.NumGC - m.num), PauseTotUs: int64(ms.PauseTotalNs-m.total) / 1000}
	for k := uint32(0); k < uint32(g.Count) && k < 256; k++ {
		idx := (ms.NumGC - 1 - k) % 256
		g.PauseMaxUs = max(g.PauseMaxUs, int64(ms.PauseNs[idx]/1000))
	}
	return g
}

func (g *gcStats) add(o gcStats) {
	g.Count += o.Count
	g.PauseTotUs += o.PauseTotUs
	g.PauseMaxUs = max(g.PauseMaxUs, o.PauseMaxUs)
}

// hostFacts are the limits the method depends on, printed with each run.
type hostFacts struct {
	NoFileSoft uint64 `json:"nofile_soft"`
	NoFileHard uint64 `json:"nofile_hard"`
	PortRange  string `json:"ip_local_port_range"`
	TimeWait   int64  `json:"time_wait_at_start"`
	CPUs       int    `json:"cpus"`
	GoVersion  string `json:"go"`
	Date       string `json:"date"`
}

func readHostFacts() hostFacts {
	var h hostFacts
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		h.NoFileSoft, h.NoFileHard = rl.Cur, rl.Max
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		h.PortRange = strings.Join(strings.Fields(string(b)), "-")
	}
	h.TimeWait = timeWait()
	h.CPUs = runtime.NumCPU()
	h.GoVersion = runtime.Version()
	h.Date = time.Now().UTC().Format(time.RFC3339)
	return h
}

// timeWait is the TIME_WAIT socket count from /proc/net/sockstat.
func timeWait() int64 {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "TCP:") {
			continue
		}
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "tw" {
				v, _ := strconv.ParseInt(f[i+1], 10, 64)
				return v
			}
		}
	}
	return -1
}

// raiseNoFile lifts the soft fd limit to the hard one.
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}
