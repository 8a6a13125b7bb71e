package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/hist"
	"github.com/sockudo/sockudo-go/bench/internal/wire"
	"github.com/sockudo/sockudo-go/protocol"
)

// DensityOptions is what the density scenario needs beyond the loader
// flags: the server processes to measure and the phase lengths.
type DensityOptions struct {
	// ServerPIDs are every server process; RSS and CPU are summed over them.
	ServerPIDs []int
	// BigPublishes are the publishes to -also-channel, BigGap apart; each
	// must reach every connection.
	BigPublishes int
	BigGap       time.Duration
	// BigWait bounds the wait for the big publishes' deliveries.
	BigWait time.Duration
	// Settle is the pause after the last subscribe before RSS is read.
	Settle time.Duration
	// Idle is how long the server CPU is sampled with nothing published.
	Idle time.Duration
	// BusPID is the bus process (NATS), for its CPU per phase (0: none).
	BusPID int
	// BusMsgs returns the bus's cumulative messages in and out (nil: none).
	BusMsgs func() (in, out int64)
}

// DensityPhase is one publish phase of the density scenario.
type DensityPhase struct {
	Publishes   int64            `json:"publishes_accepted"`
	PubFailed   int64            `json:"publishes_failed"`
	PubDropped  int64            `json:"publishes_dropped_by_generator"`
	PubPerSec   float64          `json:"publishes_per_sec"`
	PubErrors   []string         `json:"publish_errors,omitempty"`
	Expected    int64            `json:"deliveries_expected"`
	Received    int64            `json:"deliveries_received"`
	DeliveryPct float64          `json:"delivery_pct"`
	Secs        float64          `json:"secs"`
	Timed       int64            `json:"latency_samples"`
	Latency     map[string]int64 `json:"latency_us"`

	ServerCPUUs         int64   `json:"server_cpu_us"`
	ServerCPUPct        float64 `json:"server_cpu_pct"`
	ServerUsPerDelivery float64 `json:"server_cpu_us_per_delivery"`
	LoaderCPUUs         int64   `json:"loader_cpu_us"`
	LoaderUsPerDelivery float64 `json:"loader_cpu_us_per_delivery"`
	ServerUsPerPublish  float64 `json:"server_cpu_us_per_publish"`
	BusCPUUs            int64   `json:"bus_cpu_us"`
	BusMsgsIn           int64   `json:"bus_msgs_in"`
	BusMsgsOut          int64   `json:"bus_msgs_out"`
	// CPUFloorMs is the phase's CPU (servers, loaders, NATS) spread over
	// every core: no schedule on this box delivers the last frame sooner.
	CPUFloorMs float64 `json:"cpu_floor_ms"`
}

// busMark is the bus's CPU and message counters at one moment.
type busMark struct{ cpu, in, out int64 }

func (o *DensityOptions) busNow() busMark {
	m := busMark{cpu: procCPU(o.BusPID)}
	if o.BusMsgs != nil {
		m.in, m.out = o.BusMsgs()
	}
	return m
}

func (ph *DensityPhase) busSince(o *DensityOptions, m busMark) {
	n := o.busNow()
	ph.BusCPUUs, ph.BusMsgsIn, ph.BusMsgsOut = n.cpu-m.cpu, n.in-m.in, n.out-m.out
}

// DensityResult is one density run, as written to -json.
type DensityResult struct {
	Config      *Config   `json:"config"`
	Host        hostFacts `json:"host"`
	Servers     int       `json:"servers"`
	LoaderProcs int       `json:"loader_procs"`

	ConnectPhase
	// The bus during the connect phase: every node announces its
	// subscription counts to the others.
	ConnectBusCPUUs   int64 `json:"connect_bus_cpu_us"`
	ConnectBusMsgsIn  int64 `json:"connect_bus_msgs_in"`
	ConnectBusMsgsOut int64 `json:"connect_bus_msgs_out"`

	// Per server process, in ServerPIDs order.
	ServerRSSBaseKiB []int64 `json:"server_rss_base_kib"`
	ServerRSSConnKiB []int64 `json:"server_rss_connected_kib"`
	ServerRSSEndKiB  []int64 `json:"server_rss_end_kib"`
	ServerFDsBase    []int   `json:"server_fds_base"`
	ServerFDsConn    []int   `json:"server_fds_connected"`

	RSSBaseKiB      int64   `json:"total_rss_base_kib"`
	RSSConnKiB      int64   `json:"total_rss_connected_kib"`
	KiBPerConnTotal float64 `json:"total_kib_per_conn"`    // Σ connected RSS ÷ conns
	KiBPerConnMarg  float64 `json:"marginal_kib_per_conn"` // (Σ connected − Σ base) ÷ conns
	KiBPerConnBase  float64 `json:"baseline_kib_per_conn"` // Σ base ÷ conns
	// Σ VmRSS counts the server binary's file pages (≈14 MiB of text,
	// shared in the page cache) once per process; Σ PSS shares them out, so
	// it is the physical memory the servers use. Anon is heap and stacks.
	MemBase        procMem `json:"total_mem_base_kib"`
	MemConn        procMem `json:"total_mem_connected_kib"`
	KiBPerConnPSS  float64 `json:"total_pss_kib_per_conn"`
	KiBPerConnAnon float64 `json:"marginal_anon_kib_per_conn"`

	KernelBefore     kernelMem   `json:"kernel_before"`
	KernelConn       kernelMem   `json:"kernel_connected"`
	KernelKiBPerConn float64     `json:"kernel_slab_kib_per_conn"` // Δ Slab ÷ conns (both ends of each loopback connection)
	SlabGrowth       []slabDelta `json:"slab_growth,omitempty"`
	// SocketSlabKiBPerConn is the growth of the caches a socket is made of
	// (TCP, TCPv6, sock_inode_cache, filp, eventpoll_epi) per connection,
	// both ends: Slab also moves with whatever else runs on the box.
	SocketSlabKiBPerConn float64 `json:"socket_slab_kib_per_conn"`

	IdleSecs         float64 `json:"idle_secs"`
	ServerIdleCPUPct float64 `json:"server_idle_cpu_pct"`

	Big   DensityPhase `json:"big"`
	Small DensityPhase `json:"small"`

	LoaderGC   gcStats     `json:"loader_gc"`
	Closed     int64       `json:"conns_closed_by_server"`
	CloseCodes map[int]int `json:"close_codes,omitempty"`
	Errors     []string    `json:"errors,omitempty"`
	OK         bool        `json:"ok"`
}

// RunDensity runs the density scenario with the loader flags args (which
// must name -also-channel): connect and subscribe every connection to its
// small channel and the big one, read memory and idle CPU, publish to the
// big channel, then publish to the small channels at -rate for -duration.
// Subscribers live in child loader processes of ≤ -max-per-proc each
// (selfArgs re-enters this code); progress goes to out.
func RunDensity(args, selfArgs []string, o DensityOptions, out io.Writer) (*DensityResult, error) {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return nil, err
	}
	if cfg.AlsoChannel == "" || cfg.Conns < 1 {
		return nil, fmt.Errorf("density: -also-channel and -conns are required")
	}
	raiseNoFile()
	r := &DensityResult{Config: cfg, Host: readHostFacts(), Servers: len(o.ServerPIDs)}
	logf := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	srvCPU := func() int64 {
		var s int64
		for _, p := range o.ServerPIDs {
			s += procCPU(p)
		}
		return s
	}
	rss := func() ([]int64, int64) {
		v := make([]int64, len(o.ServerPIDs))
		var s int64
		for i, p := range o.ServerPIDs {
			v[i] = procRSS(p)
			s += v[i]
		}
		return v, s
	}
	mem := func() procMem {
		var t procMem
		for _, p := range o.ServerPIDs {
			t.add(readProcMem(p))
		}
		return t
	}
	fds := func() []int {
		v := make([]int, len(o.ServerPIDs))
		for i, p := range o.ServerPIDs {
			v[i] = procFDs(p)
		}
		return v
	}
	r.ServerRSSBaseKiB, r.RSSBaseKiB = rss()
	r.MemBase = mem()
	r.ServerFDsBase = fds()
	r.KernelBefore = readKernelMem()
	slab0 := readSlabinfo()
	logf("# density: %d servers, base RSS %v KiB (Σ %d KiB); nofile %d, TIME_WAIT %d, %d CPUs; kernel Slab %d KiB, TCP mem %d pages",
		len(o.ServerPIDs), r.ServerRSSBaseKiB, r.RSSBaseKiB, r.Host.NoFileSoft, r.Host.TimeWait, r.Host.CPUs,
		r.KernelBefore.SlabKiB, r.KernelBefore.TCPMemPages)

	subs, err := spawnChildren(cfg, selfArgs, args)
	if err != nil {
		return nil, err
	}
	defer func() {
		if subs != nil {
			subs.kill()
		}
	}()
	r.LoaderProcs = len(subs.kids)
	loaderCPU := func() int64 { return SelfCPU() + subs.progress().CPUUs }

	// Connect + subscribe.
	stopProgress := connectProgress(subs, cfg.Conns, logf)
	s0, l0, b0 := srvCPU(), loaderCPU(), o.busNow()
	cr := subs.connect()
	stopProgress()
	b1 := o.busNow()
	r.ConnectBusCPUUs, r.ConnectBusMsgsIn, r.ConnectBusMsgsOut = b1.cpu-b0.cpu, b1.in-b0.in, b1.out-b0.out
	r.record(cr, srvCPU()-s0, loaderCPU()-l0)
	r.log(logf, "cpu servers %.0f%% loaders %.0f%%")
	if cr.OK == 0 {
		return r, fmt.Errorf("density: no connection subscribed")
	}

	// Memory, after the servers settled.
	time.Sleep(o.Settle)
	r.ServerRSSConnKiB, r.RSSConnKiB = rss()
	r.MemConn = mem()
	r.KernelConn = readKernelMem()
	slab1 := readSlabinfo()
	r.SlabGrowth = slabGrowth(slab0, slab1, 8)
	r.SocketSlabKiBPerConn = float64(socketSlabBytes(slab0, slab1)) / 1024 / float64(cr.OK)
	// Listing /proc/PID/fd creates a proc inode and dentry per descriptor:
	// count them only after the kernel's memory was read.
	r.ServerFDsConn = fds()
	n := float64(cr.OK)
	r.KiBPerConnTotal = float64(r.RSSConnKiB) / n
	r.KiBPerConnMarg = float64(r.RSSConnKiB-r.RSSBaseKiB) / n
	r.KiBPerConnBase = float64(r.RSSBaseKiB) / n
	r.KiBPerConnPSS = float64(r.MemConn.PSS) / n
	r.KiBPerConnAnon = float64(r.MemConn.Anon-r.MemBase.Anon) / n
	r.KernelKiBPerConn = float64(r.KernelConn.SlabKiB-r.KernelBefore.SlabKiB) / n
	logf("server RSS Σ %d → %d KiB: %.2f KiB/conn total (baseline %.2f + marginal %.2f); per server %v KiB, fds %v",
		r.RSSBaseKiB, r.RSSConnKiB, r.KiBPerConnTotal, r.KiBPerConnBase, r.KiBPerConnMarg, r.ServerRSSConnKiB, r.ServerFDsConn)
	logf("kernel: Slab +%d KiB (%.2f KiB/conn, both ends), TCP mem %d → %d pages, TCP inuse %d, MemAvailable −%d KiB",
		r.KernelConn.SlabKiB-r.KernelBefore.SlabKiB, r.KernelKiBPerConn, r.KernelBefore.TCPMemPages, r.KernelConn.TCPMemPages,
		r.KernelConn.TCPInuse, r.KernelBefore.MemAvailableKiB-r.KernelConn.MemAvailableKiB)

	// Idle CPU.
	if o.Idle > 0 {
		c0, t0 := srvCPU(), time.Now()
		time.Sleep(o.Idle)
		r.IdleSecs = time.Since(t0).Seconds()
		r.ServerIdleCPUPct = float64(srvCPU()-c0) / 1e4 / r.IdleSecs
		logf("idle %.1fs: servers' CPU %.2f%% of a core (all %d together)", r.IdleSecs, r.ServerIdleCPUPct, len(o.ServerPIDs))
	}

	gc0 := gcNow()
	// Big channel: each publish must reach every subscribed connection.
	{
		ph := &r.Big
		s0, l0, t0, b0 := srvCPU(), loaderCPU(), time.Now(), o.busNow()
		for k := 0; k < o.BigPublishes; k++ {
			if k > 0 {
				time.Sleep(o.BigGap)
			}
			if err := publishTo(cfg, cfg.AlsoChannel); err != nil {
				ph.PubFailed++
				ph.PubErrors = append(ph.PubErrors, err.Error())
				continue
			}
			ph.Publishes++
		}
		ph.Expected = ph.Publishes * cr.OK
		got := waitDeliveries(func() int64 { return subs.progress().AlsoReceived }, ph.Expected, o.BigWait, 5*time.Second)
		ph.Secs = time.Since(t0).Seconds()
		ph.ServerCPUUs, ph.LoaderCPUUs = srvCPU()-s0, loaderCPU()-l0
		ph.busSince(&o, b0)
		logf("big channel: %d publish(es), %d/%d delivered (parent's view) in %.2fs", ph.Publishes, got, ph.Expected, ph.Secs)
	}

	// Small channels at -rate for -duration.
	{
		ph := &r.Small
		perChan := cr.PerChan
		if len(perChan) == 0 {
			perChan = make([]int64, cfg.Channels)
		}
		pub, err := newPublisher(cfg, perChan, nil)
		if err != nil {
			return r, err
		}
		small := func() int64 { p := subs.progress(); return p.Received - p.AlsoReceived }
		base := small()
		s0, l0, t0, b0 := srvCPU(), loaderCPU(), time.Now(), o.busNow()
		pub.run(cfg.Duration)
		pubSecs := time.Since(t0).Seconds()
		got := waitDeliveries(func() int64 { return small() - base }, pub.expected.Load(), cfg.Drain, 3*time.Second)
		ph.Secs = time.Since(t0).Seconds()
		ph.ServerCPUUs, ph.LoaderCPUUs = srvCPU()-s0, loaderCPU()-l0
		ph.busSince(&o, b0)
		ph.Publishes, ph.PubFailed, ph.PubDropped = pub.accepted.Load(), pub.failed.Load(), pub.dropped.Load()
		ph.PubPerSec = float64(ph.Publishes) / pubSecs
		ph.PubErrors = pub.errorList()
		ph.Expected = pub.expected.Load()
		logf("small channels: %d publishes (%.0f/s, %d failed, %d dropped by generator), %d/%d delivered (parent's view)",
			ph.Publishes, ph.PubPerSec, ph.PubFailed, ph.PubDropped, got, ph.Expected)
	}

	r.LoaderGC = gcSince(gc0)
	fin, gcKids := subs.finish()
	subs = nil
	r.LoaderGC.add(gcKids)
	r.ServerRSSEndKiB, _ = rss()
	r.Closed, r.CloseCodes, r.Errors = fin.Closed, fin.CloseCodes, fin.Errors
	r.Big.Received = fin.AlsoReceived
	r.Small.Received = fin.Received - fin.AlsoReceived
	r.Big.finish(fin.AlsoHist, r.Host.CPUs)
	r.Small.finish(fin.Hist, r.Host.CPUs)
	r.OK = r.ConnFailed == 0 && r.Closed == 0 && r.Big.PubFailed == 0 && r.Small.PubFailed == 0 &&
		r.Big.Publishes > 0 && r.Big.Received == r.Big.Expected &&
		(cfg.Duration == 0 || r.Small.Publishes > 0) && r.Small.Received == r.Small.Expected
	return r, nil
}

// finish fills the delivery ratio, latency and CPU per delivery.
func (ph *DensityPhase) finish(h *hist.H, cpus int) {
	ph.Latency = map[string]int64{}
	ph.CPUFloorMs = float64(ph.ServerCPUUs+ph.LoaderCPUUs+ph.BusCPUUs) / 1000 / float64(max(cpus, 1))
	if ph.Expected > 0 {
		ph.DeliveryPct = 100 * float64(ph.Received) / float64(ph.Expected)
	}
	if ph.Received > 0 {
		ph.ServerUsPerDelivery = float64(ph.ServerCPUUs) / float64(ph.Received)
		ph.LoaderUsPerDelivery = float64(ph.LoaderCPUUs) / float64(ph.Received)
	}
	if ph.Secs > 0 {
		ph.ServerCPUPct = float64(ph.ServerCPUUs) / 1e4 / ph.Secs
	}
	if ph.Publishes > 0 {
		ph.ServerUsPerPublish = float64(ph.ServerCPUUs) / float64(ph.Publishes)
	}
	if h == nil || h.Count() == 0 {
		return
	}
	ph.Timed = h.Count()
	for _, q := range []struct {
		k string
		p float64
	}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}} {
		ph.Latency[q.k] = h.Quantile(q.p)
	}
	ph.Latency["max"] = h.Max()
	ph.Latency["mean"] = int64(h.Mean())
}

// waitDeliveries polls got until it reaches want, until d has passed, or
// until it stalled for stall; it returns the last count.
func waitDeliveries(got func() int64, want int64, d, stall time.Duration) int64 {
	deadline := time.Now().Add(d)
	last, lastChange := got(), time.Now()
	for last < want && time.Now().Before(deadline) && time.Since(lastChange) < stall {
		time.Sleep(20 * time.Millisecond)
		if v := got(); v != last {
			last, lastChange = v, time.Now()
		}
	}
	return last
}

// publishTo sends one signed event carrying the send time to channel.
func publishTo(cfg *Config, channel string) error {
	u, err := url.Parse(cfg.API)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return fmt.Errorf("api dial: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	path := "/apps/" + cfg.AppID + "/events"
	now := time.Now()
	body := append([]byte(`{"name":`), strconv.Quote(cfg.Event)...)
	body = append(body, `,"channel":`...)
	body = append(body, strconv.Quote(channel)...)
	body = append(body, `,"data":"`...)
	body = wire.AppendPayload(body, now.UnixNano(), cfg.Payload)
	body = append(body, `"}`...)
	q := protocol.SignRequest("POST", path, nil, body, cfg.Key, cfg.Secret, now)
	req := fmt.Appendf(nil, "POST %s?%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		path, q, host, len(body))
	req = append(req, body...)
	status, _, msg, err := roundTrip(&httpConn{c: c, br: bufio.NewReaderSize(c, 4096)}, req)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if status != 200 {
		return fmt.Errorf("HTTP %d: %s", status, msg)
	}
	return nil
}

// procFDs counts the open descriptors of pid (-1 when unreadable): on
// servers sharing a port it shows how the kernel spread the connections.
func procFDs(pid int) int {
	if pid <= 0 {
		return -1
	}
	d, err := os.Open("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names)
}

// kernelMem is the machine-wide kernel memory that sockets use.
type kernelMem struct {
	SlabKiB         int64 `json:"slab_kib"`
	SUnreclaimKiB   int64 `json:"sunreclaim_kib"`
	MemAvailableKiB int64 `json:"mem_available_kib"`
	TCPInuse        int64 `json:"tcp_inuse"`
	TCPTimeWait     int64 `json:"tcp_tw"`
	TCPMemPages     int64 `json:"tcp_mem_pages"`
}

func readKernelMem() kernelMem {
	var k kernelMem
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			v, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "Slab:":
				k.SlabKiB = v
			case "SUnreclaim:":
				k.SUnreclaimKiB = v
			case "MemAvailable:":
				k.MemAvailableKiB = v
			}
		}
	}
	if b, err := os.ReadFile("/proc/net/sockstat"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "TCP:" {
				continue
			}
			for i := 1; i+1 < len(f); i += 2 {
				v, _ := strconv.ParseInt(f[i+1], 10, 64)
				switch f[i] {
				case "inuse":
					k.TCPInuse = v
				case "tw":
					k.TCPTimeWait = v
				case "mem":
					k.TCPMemPages = v
				}
			}
		}
	}
	return k
}

// slabDelta is the growth of one kernel slab cache over the connect phase.
type slabDelta struct {
	Cache    string `json:"cache"`
	DeltaKiB int64  `json:"delta_kib"`
	ObjSize  int64  `json:"obj_size"`
	DeltaObj int64  `json:"delta_objs"`
}

type slabEntry struct{ objs, size int64 }

// readSlabinfo reads /proc/slabinfo (nil when unreadable).
func readSlabinfo() map[string]slabEntry {
	b, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return nil
	}
	m := map[string]slabEntry{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "slabinfo") {
			continue
		}
		objs, _ := strconv.ParseInt(f[2], 10, 64)
		size, _ := strconv.ParseInt(f[3], 10, 64)
		m[f[0]] = slabEntry{objs, size}
	}
	return m
}

// slabGrowth returns the top caches by growth in bytes.
func slabGrowth(a, b map[string]slabEntry, top int) []slabDelta {
	var out []slabDelta
	for name, e := range b {
		d := e.objs - a[name].objs
		if d <= 0 {
			continue
		}
		out = append(out, slabDelta{Cache: name, DeltaKiB: d * e.size / 1024, ObjSize: e.size, DeltaObj: d})
	}
	// Selection of the largest few; the list is short.
	for i := 0; i < len(out); i++ {
		for j := i + 1; j < len(out); j++ {
			if out[j].DeltaKiB > out[i].DeltaKiB {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	if len(out) > top {
		out = out[:top]
	}
	return out
}

// socketSlabBytes is the growth of the slab caches that make up a
// connected TCP socket and its descriptor.
func socketSlabBytes(a, b map[string]slabEntry) int64 {
	var sum int64
	for _, name := range []string{"TCP", "TCPv6", "sock_inode_cache", "filp", "eventpoll_epi"} {
		sum += (b[name].objs - a[name].objs) * b[name].size
	}
	return sum
}

// PrintDensity writes the human report of a density run.
func PrintDensity(w io.Writer, r *DensityResult) {
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "  %-28s %s\n", k, fmt.Sprintf(format, a...)) }
	c := r.Config
	fmt.Fprintf(w, "== density ==\n")
	row("setup", "%d conns over %d server processes and %d loader processes; each conn: %s + 1 of %d small channels; %d source addresses",
		c.Conns, r.Servers, r.LoaderProcs, c.AlsoChannel, c.Channels, c.SrcIPs)
	row("connect+subscribe", "%d ok, %d failed, %.2f s, %.0f /s (CPU servers %.0f %%, loaders %.0f %%)",
		r.ConnOK, r.ConnFailed, r.ConnectSecs, r.ConnectPerSec, r.ConnectServerCPUPct, r.ConnectLoaderCPUPct)
	row("connect bus", "NATS CPU %.2f s, %d msgs in, %d out", float64(r.ConnectBusCPUUs)/1e6, r.ConnectBusMsgsIn, r.ConnectBusMsgsOut)
	row("server RSS (Σ processes)", "base %.1f MiB, connected %.1f MiB: %.2f KiB/conn = baseline %.2f + marginal %.2f",
		float64(r.RSSBaseKiB)/1024, float64(r.RSSConnKiB)/1024, r.KiBPerConnTotal, r.KiBPerConnBase, r.KiBPerConnMarg)
	row("server memory (Σ)", "PSS %.1f → %.1f MiB = %.2f KiB/conn; anon %.1f → %.1f MiB (+%.2f KiB/conn); file %.1f MiB (binary text, shared)",
		float64(r.MemBase.PSS)/1024, float64(r.MemConn.PSS)/1024, r.KiBPerConnPSS, float64(r.MemBase.Anon)/1024,
		float64(r.MemConn.Anon)/1024, r.KiBPerConnAnon, float64(r.MemConn.File)/1024)
	row("per server RSS KiB", "base %v, connected %v, end %v", r.ServerRSSBaseKiB, r.ServerRSSConnKiB, r.ServerRSSEndKiB)
	row("per server open fds", "base %v, connected %v", r.ServerFDsBase, r.ServerFDsConn)
	row("kernel (whole box)", "Slab +%.1f MiB = %.2f KiB/conn (both ends), TCP mem %d → %d pages, MemAvailable −%.1f MiB",
		float64(r.KernelConn.SlabKiB-r.KernelBefore.SlabKiB)/1024, r.KernelKiBPerConn, r.KernelBefore.TCPMemPages,
		r.KernelConn.TCPMemPages, float64(r.KernelBefore.MemAvailableKiB-r.KernelConn.MemAvailableKiB)/1024)
	row("kernel socket slabs", "%.2f KiB/conn (TCP, TCPv6, sock_inode_cache, filp, eventpoll_epi; both ends)", r.SocketSlabKiBPerConn)
	for _, s := range r.SlabGrowth {
		row("  slab "+s.Cache, "+%d objs × %d B = +%.1f MiB", s.DeltaObj, s.ObjSize, float64(s.DeltaKiB)/1024)
	}
	row("servers idle CPU", "%.2f %% of a core over %.1f s (all servers)", r.ServerIdleCPUPct, r.IdleSecs)
	phase := func(name string, ph DensityPhase) {
		row(name+" publishes", "%d accepted, %d failed, %d dropped by generator, %.0f /s", ph.Publishes, ph.PubFailed, ph.PubDropped, ph.PubPerSec)
		row(name+" deliveries", "%d / %d = %.3f %% in %.2f s", ph.Received, ph.Expected, ph.DeliveryPct, ph.Secs)
		if ph.Timed > 0 {
			row(name+" latency", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s (%d timed; max = the last subscriber)", ms(ph.Latency["p50"]),
				ms(ph.Latency["p90"]), ms(ph.Latency["p99"]), ms(ph.Latency["p99.9"]), ms(ph.Latency["max"]), ph.Timed)
		}
		row(name+" CPU", "servers %.2f s (%.2f µs/delivery, %.0f µs/publish), loaders %.2f s (%.2f µs/delivery)",
			float64(ph.ServerCPUUs)/1e6, ph.ServerUsPerDelivery, ph.ServerUsPerPublish, float64(ph.LoaderCPUUs)/1e6, ph.LoaderUsPerDelivery)
		row(name+" bus", "NATS CPU %.2f s, %d msgs in, %d out", float64(ph.BusCPUUs)/1e6, ph.BusMsgsIn, ph.BusMsgsOut)
		row(name+" CPU floor", "%.0f ms (servers + loaders + NATS CPU of the phase ÷ %d cores)", ph.CPUFloorMs, r.Host.CPUs)
		for _, e := range ph.PubErrors {
			row(name+" publish error", "%s", e)
		}
	}
	phase("big", r.Big)
	phase("small", r.Small)
	row("loader GC", "%d cycles, %.2f ms total pause, max %d µs", r.LoaderGC.Count, float64(r.LoaderGC.PauseTotUs)/1000, r.LoaderGC.PauseMaxUs)
	if r.Closed > 0 {
		row("closed by server", "%d (codes %v)", r.Closed, r.CloseCodes)
	}
	for _, e := range r.Errors {
		row("error", "%s", e)
	}
}

// procMem is one process's resident memory in KiB.
type procMem struct {
	RSS  int64 `json:"rss"`
	Anon int64 `json:"anon"`
	File int64 `json:"file"`
	PSS  int64 `json:"pss"`
}

func (m *procMem) add(o procMem) {
	m.RSS += o.RSS
	m.Anon += o.Anon
	m.File += o.File
	m.PSS += o.PSS
}

// readProcMem reads VmRSS, RssAnon, RssFile (status) and Pss (smaps_rollup).
func readProcMem(pid int) procMem {
	var m procMem
	field := func(path string, keys map[string]*int64) {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				if p, ok := keys[f[0]]; ok {
					*p, _ = strconv.ParseInt(f[1], 10, 64)
				}
			}
		}
	}
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	field(dir+"status", map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon, "RssFile:": &m.File})
	field(dir+"smaps_rollup", map[string]*int64{"Pss:": &m.PSS})
	return m
}
