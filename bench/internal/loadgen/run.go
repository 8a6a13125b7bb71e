package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/hist"
)

// Result is one run, as written to -json.
type Result struct {
	Scenario string    `json:"scenario"`
	Config   *Config   `json:"config"`
	Host     hostFacts `json:"host"`

	Conns       int `json:"conns"`
	LoaderProcs int `json:"loader_procs"`
	ConnectPhase

	ServerRSSBaseKiB int64   `json:"server_rss_base_kib"`
	ServerRSSConnKiB int64   `json:"server_rss_connected_kib"`
	ServerRSSEndKiB  int64   `json:"server_rss_end_kib"`
	KiBPerConn       float64 `json:"server_kib_per_conn"`
	IdleSecs         float64 `json:"idle_secs,omitempty"`
	ServerIdleCPUPct float64 `json:"server_idle_cpu_pct"`

	PublishSecs  float64          `json:"publish_secs"`
	ElapsedSecs  float64          `json:"elapsed_secs"`
	PubAccepted  int64            `json:"publishes_accepted"`
	PubFailed    int64            `json:"publishes_failed"`
	PubDropped   int64            `json:"publishes_dropped_by_generator"`
	Requests     int64            `json:"http_requests"`
	PubPerSec    float64          `json:"publishes_per_sec"`
	HTTPMeanUs   float64          `json:"http_mean_us"`
	PubRTT       map[string]int64 `json:"publish_rtt_us,omitempty"`
	History      *HistoryResult   `json:"history,omitempty"`
	PubErrors    []string         `json:"publish_errors,omitempty"`
	Expected     int64            `json:"deliveries_expected"`
	Received     int64            `json:"deliveries_received"`
	DeliveryPct  float64          `json:"delivery_pct"`
	DeliveriesPS float64          `json:"deliveries_per_sec"`

	Timed       int64            `json:"latency_samples"`
	Latency     map[string]int64 `json:"latency_us"`
	Percentiles []hist.Point     `json:"percentiles,omitempty"`

	ServerCPUUs         int64   `json:"server_cpu_us"`
	ServerCPUPct        float64 `json:"server_cpu_pct"`
	LoaderCPUUs         int64   `json:"loader_cpu_us"`
	LoaderCPUPct        float64 `json:"loader_cpu_pct"`
	ServerUsPerDelivery float64 `json:"server_cpu_us_per_delivery"`
	LoaderUsPerDelivery float64 `json:"loader_cpu_us_per_delivery"`
	ServerUsPerPublish  float64 `json:"server_cpu_us_per_publish"`
	LoaderGC            gcStats `json:"loader_gc"`

	Closed     int64       `json:"conns_closed_by_server"`
	CloseCodes map[int]int `json:"close_codes,omitempty"`
	Errors     []string    `json:"errors,omitempty"`
	OK         bool        `json:"ok"`
}

// Main runs the load generator. selfArgs is what os.Executable needs
// before the flags to re-enter this code (e.g. a subcommand name) when it
// spawns child loaders.
func Main(args, selfArgs []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	if cfg.Child {
		return childMain(cfg)
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err == nil {
			_ = pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	res, err := Run(cfg, args, selfArgs, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	code := 0
	if !res.OK {
		code = 3
	}
	return code
}

// Run executes one scenario and writes the report files.
func Run(cfg *Config, args, selfArgs []string, out io.Writer) (*Result, error) {
	raiseNoFile()
	r := &Result{Scenario: cfg.Scenario, Config: cfg, Host: readHostFacts(), Conns: cfg.Conns, Latency: map[string]int64{}}
	logf := Progress(out, cfg.Quiet)
	logf("# %s: nofile %d/%d, ports %s, TIME_WAIT %d, %d CPUs, %s", cfg.Scenario, r.Host.NoFileSoft, r.Host.NoFileHard,
		r.Host.PortRange, r.Host.TimeWait, r.Host.CPUs, r.Host.GoVersion)
	pid := cfg.ServerPID
	r.ServerRSSBaseKiB = procRSS(pid)

	var subs subscribers
	if cfg.Conns > 0 {
		if cfg.Conns > cfg.MaxPerProc {
			rs, err := spawnChildren(cfg, selfArgs, args)
			if err != nil {
				return nil, err
			}
			subs = rs
			r.LoaderProcs = len(rs.kids)
		} else {
			g, err := newLocalGroup(cfg, 0, cfg.Conns)
			if err != nil {
				return nil, err
			}
			subs = &localSubs{g: g}
			r.LoaderProcs = 1
		}
	}
	defer func() {
		if subs != nil {
			subs.kill()
		}
	}()

	// Connect phase.
	var perChan []int64
	if subs != nil {
		stopProgress := connectProgress(subs, cfg.Conns, logf)
		srvC0, ldrC0 := procCPU(pid), SelfCPU()
		cr := subs.connect()
		stopProgress()
		r.record(cr, procCPU(pid)-srvC0, SelfCPU()+subs.progress().CPUUs-ldrC0)
		perChan = cr.PerChan
		r.log(logf, "cpu srv %.0f%% ldr %.0f%%")
		time.Sleep(time.Second) // let the server settle before sampling RSS
		r.ServerRSSConnKiB = procRSS(pid)
		if cr.OK > 0 && pid > 0 {
			r.KiBPerConn = float64(r.ServerRSSConnKiB-r.ServerRSSBaseKiB) / float64(cr.OK)
			logf("server RSS %d KiB → %d KiB: %.2f KiB per connection", r.ServerRSSBaseKiB, r.ServerRSSConnKiB, r.KiBPerConn)
		}
		if cfg.Idle > 0 {
			c0, t0 := procCPU(pid), time.Now()
			time.Sleep(cfg.Idle)
			r.IdleSecs = time.Since(t0).Seconds()
			r.ServerIdleCPUPct = float64(procCPU(pid)-c0) / 1e4 / r.IdleSecs
			logf("idle %.1fs: server CPU %.2f%%", r.IdleSecs, r.ServerIdleCPUPct)
		}
	}
	if perChan == nil {
		perChan = make([]int64, cfg.Channels)
	}

	// Publish phase.
	received := func() int64 {
		if subs == nil {
			return 0
		}
		return subs.progress().Received
	}
	childCPU := func() int64 {
		if subs == nil {
			return 0
		}
		return subs.progress().CPUUs
	}
	var pub *publisher
	pub, err := newPublisher(cfg, perChan, func() int64 { return pub.expected.Load() - received() })
	if err != nil {
		return nil, err
	}
	publishing := cfg.Duration > 0 && (cfg.HTTPOnly || r.ConnOK > 0)
	var hist0 historyMark
	if cfg.Metrics != "" {
		hist0 = markHistory(cfg.Metrics)
	}
	srv0, self0, kids0, gc0 := procCPU(pid), SelfCPU(), childCPU(), gcNow()
	t0 := time.Now()
	var tEnd time.Time
	if publishing {
		var phase atomic.Value
		phase.Store("publish")
		stopP := make(chan struct{})
		doneP := make(chan struct{})
		go func() {
			defer close(doneP)
			t := time.NewTicker(time.Second)
			defer t.Stop()
			lastRecv, lastSrv, lastLdr, lastT := int64(0), srv0, self0+kids0, t0
			for {
				select {
				case <-stopP:
					return
				case now := <-t.C:
					rc, sc, lc := received(), procCPU(pid), SelfCPU()+childCPU()
					exp := pub.expected.Load()
					dt := now.Sub(lastT).Seconds()
					pct := 100.0
					if exp > 0 {
						pct = 100 * float64(rc) / float64(exp)
					}
					logf("[%5.1fs] %s pub ok %d fail %d drop %d | deliv %d/%d %.1f%% %.0f/s | cpu srv %.0f%% ldr %.0f%%",
						now.Sub(t0).Seconds(), phase.Load(), pub.accepted.Load(), pub.failed.Load(), pub.dropped.Load(),
						rc, exp, pct, float64(rc-lastRecv)/dt, float64(sc-lastSrv)/1e4/dt, float64(lc-lastLdr)/1e4/dt)
					lastRecv, lastSrv, lastLdr, lastT = rc, sc, lc, now
				}
			}
		}()
		pub.run(cfg.Duration)
		r.PublishSecs = time.Since(t0).Seconds()
		phase.Store("drain")
		// Drain: wait for deliveries in flight.
		tEnd = time.Now()
		if subs != nil {
			last, lastChange := received(), time.Now()
			tEnd = lastChange
			deadline := time.Now().Add(cfg.Drain)
			for time.Now().Before(deadline) {
				rc := received()
				if rc != last {
					last, lastChange = rc, time.Now()
					tEnd = lastChange
				}
				if rc >= pub.expected.Load() || time.Since(lastChange) > 3*time.Second {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		if cfg.Metrics != "" {
			phase.Store("history")
			r.History = waitHistory(cfg.Metrics, hist0, pub.accepted.Load(), t0, cfg.Drain)
		}
		close(stopP)
		<-doneP
	} else {
		tEnd = time.Now()
	}
	srv1, self1, kids1 := procCPU(pid), SelfCPU(), childCPU()
	r.LoaderGC = gcSince(gc0)
	var fin groupFinal
	if subs != nil {
		var gcKids gcStats
		fin, gcKids = subs.finish()
		r.LoaderGC.add(gcKids)
		subs = nil
	}
	r.ServerRSSEndKiB = procRSS(pid)
	elapsed := tEnd.Sub(t0).Seconds()
	r.ElapsedSecs = elapsed
	r.PubAccepted, r.PubFailed, r.PubDropped, r.Requests = pub.accepted.Load(), pub.failed.Load(), pub.dropped.Load(), pub.requests.Load()
	r.PubErrors = pub.errorList()
	if r.PublishSecs > 0 {
		r.PubPerSec = float64(r.PubAccepted) / r.PublishSecs
	}
	if r.Requests > 0 {
		r.HTTPMeanUs = float64(pub.httpNanos.Load()) / 1000 / float64(r.Requests)
	}
	if pub.lat.Count() > 0 {
		r.PubRTT = map[string]int64{"p50": pub.lat.Quantile(50), "p90": pub.lat.Quantile(90), "p99": pub.lat.Quantile(99),
			"p99.9": pub.lat.Quantile(99.9), "max": pub.lat.Max()}
	}
	r.Expected, r.Received = pub.expected.Load(), fin.Received
	if r.Expected > 0 {
		r.DeliveryPct = 100 * float64(r.Received) / float64(r.Expected)
	}
	if elapsed > 0 {
		r.DeliveriesPS = float64(r.Received) / elapsed
	}
	r.ServerCPUUs, r.LoaderCPUUs = srv1-srv0, (self1+kids1)-(self0+kids0)
	if elapsed > 0 {
		r.ServerCPUPct = float64(r.ServerCPUUs) / 1e4 / elapsed
		r.LoaderCPUPct = float64(r.LoaderCPUUs) / 1e4 / elapsed
	}
	if r.Received > 0 {
		r.ServerUsPerDelivery = float64(r.ServerCPUUs) / float64(r.Received)
		r.LoaderUsPerDelivery = float64(r.LoaderCPUUs) / float64(r.Received)
	}
	if r.PubAccepted > 0 {
		r.ServerUsPerPublish = float64(r.ServerCPUUs) / float64(r.PubAccepted)
	}
	r.Closed, r.CloseCodes, r.Errors = fin.Closed, fin.CloseCodes, fin.Errors
	if fin.Hist != nil && fin.Hist.Count() > 0 {
		h := fin.Hist
		r.Timed = h.Count()
		for _, q := range []struct {
			k string
			p float64
		}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}} {
			r.Latency[q.k] = h.Quantile(q.p)
		}
		r.Latency["max"] = h.Max()
		r.Latency["mean"] = int64(h.Mean())
		r.Percentiles = h.Percentiles()
	}
	r.OK = r.ConnFailed == 0 && r.PubFailed == 0 && r.Closed == 0 && (!publishing || r.PubAccepted > 0) &&
		(cfg.HTTPOnly || !publishing || r.Received == r.Expected) && (r.History == nil || r.History.Err == "")
	printTable(out, r)
	if cfg.JSON != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(cfg.JSON, append(b, '\n'), 0o644); err != nil {
			return r, err
		}
	}
	if cfg.SVG != "" && len(r.Percentiles) > 0 {
		if err := os.WriteFile(cfg.SVG, []byte(percentileSVG(r)), 0o644); err != nil {
			return r, err
		}
	}
	return r, nil
}
