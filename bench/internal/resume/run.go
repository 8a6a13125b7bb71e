// Package resume is the V2 connection-recovery scenario (issue 12,
// "Speed"): N V2 clients on C channels lose their sockets at once while
// publishing goes on, reconnect, re-subscribe and sockudo:resume as the
// official client does. It reports how many recovered, every duplicate
// and gap the server caused (counted on the raw frames, before the
// client's message_id dedup), and how long until all were caught up.
package resume

import (
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/hist"
	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
	"github.com/sockudo/sockudo-go/bench/internal/v2client"
)

// Config is one run; flags map 1:1 onto it.
type Config struct {
	WS, API            string
	AppID, Key, Secret string
	Clients, Channels  int
	Rate               float64
	PubConc, Payload   int
	Warmup, Outage     time.Duration
	Tail, Drain        time.Duration
	CatchupTimeout     time.Duration
	SrcBase            string
	SrcIPs             int
	ServerPID          int
	Event              string
	JSON, Scenario     string
	Quiet              bool
}

func parseFlags(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.WS, "ws", "ws://127.0.0.1:6001", "WebSocket base URL (host:port is used; the path is /app/{key}?protocol=2…)")
	fs.StringVar(&c.API, "api", "http://127.0.0.1:6001", "HTTP API base URL")
	fs.StringVar(&c.AppID, "app-id", "bench", "app id")
	fs.StringVar(&c.Key, "key", "bench-key", "app key")
	fs.StringVar(&c.Secret, "secret", "bench-secret", "app secret")
	fs.IntVar(&c.Clients, "clients", 1000, "V2 clients; client i subscribes to bench-(i % channels)")
	fs.IntVar(&c.Channels, "channels", 100, "channels")
	fs.Float64Var(&c.Rate, "rate", 1000, "events published per second, round-robin over the channels, for the whole run")
	fs.IntVar(&c.PubConc, "pub-conc", 8, "HTTP publisher workers")
	fs.IntVar(&c.Payload, "payload", 100, "event data size in bytes")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "publishing before the drop")
	fs.DurationVar(&c.Outage, "outage", time.Second, "how long the clients stay disconnected (they reconnect at once after it, all together)")
	fs.DurationVar(&c.Tail, "tail", 2*time.Second, "publishing after every client caught up")
	fs.DurationVar(&c.Drain, "drain", 10*time.Second, "max wait after the last publish for every client to hold every message")
	fs.DurationVar(&c.CatchupTimeout, "catchup-timeout", 30*time.Second, "max wait from the reconnect for every client to catch up")
	fs.StringVar(&c.SrcBase, "src-base", "127.0.0.2", "first source address")
	fs.IntVar(&c.SrcIPs, "src-ips", 4, "source addresses: client i binds -src-base + (i % src-ips)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "server process id for /proc CPU (0 = not measured)")
	fs.StringVar(&c.Event, "event", "bench-event", "event name")
	fs.StringVar(&c.JSON, "json", "", "write the result as JSON to this file")
	fs.StringVar(&c.Scenario, "scenario", "v2-resume", "scenario name for the report")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case c.Clients < 1 || c.Channels < 1 || c.Channels > c.Clients:
		return nil, fmt.Errorf("need 1 ≤ -channels ≤ -clients")
	case c.Rate <= 0 || c.PubConc < 1:
		return nil, fmt.Errorf("-rate must be > 0 and -pub-conc ≥ 1")
	case net.ParseIP(c.SrcBase).To4() == nil:
		return nil, fmt.Errorf("-src-base must be an IPv4 address")
	}
	c.SrcIPs = max(c.SrcIPs, 1)
	c.Payload = max(c.Payload, 21)
	return c, nil
}

// Result is one run, as written to -json. Times are in ms.
type Result struct {
	Scenario string  `json:"scenario"`
	Config   *Config `json:"config"`

	Subscribed  int     `json:"subscribed"`
	ConnectSecs float64 `json:"connect_secs"`

	PubAccepted int64            `json:"publishes_accepted"`
	PubFailed   int64            `json:"publishes_failed"`
	PubDropped  int64            `json:"publishes_dropped_by_generator"`
	PubPerSec   float64          `json:"publishes_per_sec"`
	PubRTT      map[string]int64 `json:"publish_rtt_us"`
	PubErrors   []string         `json:"publish_errors,omitempty"`

	Dropped      int            `json:"dropped"`
	DropMs       float64        `json:"drop_ms"` // closing every socket
	OutageMs     float64        `json:"outage_ms"`
	Reconnected  int            `json:"reconnected"`
	Resumed      int            `json:"resumed"`   // got resume_success
	Recovered    int            `json:"recovered"` // … listing the channel as recovered, and no failure
	RecoveredPct float64        `json:"recovered_pct"`
	FailedCodes  map[string]int `json:"failed_codes,omitempty"`
	Replayed     int64          `json:"replayed"`
	CaughtUp     int            `json:"caught_up"`

	Expected     int64 `json:"messages_expected"` // Σ over clients of the serials published after they subscribed
	Received     int64 `json:"messages_received"` // raw frames, all connections
	Duplicates   int64 `json:"duplicates"`        // serials the server sent twice to one client
	Gaps         int64 `json:"gaps"`              // serials a client never got
	Below        int64 `json:"before_subscribe"`
	NoSerial     int64 `json:"without_serial"`
	DedupDropped int64 `json:"dedup_dropped"`

	// From the reconnect (end of the outage); percentiles over clients.
	ReconnectMs map[string]float64 `json:"reconnect_ms"`
	ResumeMs    map[string]float64 `json:"resume_success_ms"`
	CaughtMs    map[string]float64 `json:"caught_up_ms"`
	// Until the last client caught up, from the drop and from the reconnect.
	AllCaughtFromDropMs      float64 `json:"all_caught_up_from_drop_ms"`
	AllCaughtFromReconnectMs float64 `json:"all_caught_up_from_reconnect_ms"`

	ServerRecoveryCPUMs float64 `json:"server_recovery_cpu_ms"` // reconnect → all caught up
	ServerCPUPct        float64 `json:"server_recovery_cpu_pct"`

	Errors []string `json:"errors,omitempty"`
	OK     bool     `json:"ok"`
}

// Main runs the scenario with command-line args.
func Main(args []string, stdout, stderr io.Writer) int {
	return loadgen.SubcommandMain("resume", args, stdout, stderr, parseFlags, Run, func(r *Result) bool { return r.OK })
}

// Run executes one scenario and writes the report.
func Run(cfg *Config, out io.Writer) (*Result, error) {
	logf := loadgen.Progress(out, cfg.Quiet)
	host, err := loadgen.WSHost(cfg.WS)
	if err != nil {
		return nil, err
	}
	srcIP := v2client.SourceIPs(net.ParseIP(cfg.SrcBase), cfg.SrcIPs)
	ccfg := &v2client.Config{Host: host, Key: cfg.Key, Event: cfg.Event, SrcIP: srcIP}
	r := &Result{Scenario: cfg.Scenario, Config: cfg}

	clients := make([]*v2client.Client, cfg.Clients)
	var wg sync.WaitGroup
	var closeOnce sync.Once
	closeAll := func() {
		closeOnce.Do(func() {
			for _, c := range clients {
				if c != nil {
					c.Close()
				}
			}
			wg.Wait()
		})
	}
	defer closeAll()
	// Connect phase: 64 at a time, as loadgen's dialers.
	t0 := time.Now()
	r.Subscribed = v2client.ConnectAll(cfg.Clients, &wg, func(i int) (func(), <-chan struct{}) {
		c := v2client.New(ccfg, i, channelName(i%cfg.Channels))
		clients[i] = c
		return c.Run, c.Subscribed()
	})
	r.ConnectSecs = time.Since(t0).Seconds()
	logf("# %s: %d V2 clients on %d channels subscribed in %.2f s", cfg.Scenario, r.Subscribed, cfg.Channels, r.ConnectSecs)
	if r.Subscribed < cfg.Clients {
		r.Errors = collectErrors(clients)
		printTable(out, r)
		return r, loadgen.WriteJSON(cfg.JSON, r)
	}

	pub := newPublisher(cfg)
	pub.start()
	time.Sleep(cfg.Warmup)

	// The drop: every socket closed in one loop, no close frame.
	hold := make(chan struct{})
	tDrop := time.Now()
	for _, c := range clients {
		c.Drop(hold)
	}
	r.Dropped = len(clients)
	r.DropMs = ms(time.Since(tDrop))
	logf("dropped %d sockets in %.1f ms (published so far %d); reconnecting in %v", r.Dropped, r.DropMs, pub.total(), cfg.Outage)
	time.Sleep(cfg.Outage)
	// To be caught up, a client must hold every serial up to its
	// channel's head when it reconnects (the messages published while it
	// was away included): the publishes the API accepted for the channel
	// so far (+ its first serial, 0 on a fresh server), a lower bound of
	// the head while requests are in flight.
	for i, c := range clients {
		c.SetTarget(c.Stats().Base + uint64(pub.accepted[i%cfg.Channels].Load()))
	}
	cpu0 := loadgen.ProcCPU(cfg.ServerPID)
	tRel := time.Now()
	r.OutageMs = ms(tRel.Sub(tDrop))
	close(hold)

	// Recovery: until every client caught up.
	var tAll time.Time
	lastLog := time.Now()
	for {
		nr, ns, nc := 0, 0, 0
		for _, c := range clients {
			a, b, k := c.Times()
			nr += b2i(a != 0)
			ns += b2i(b != 0)
			nc += b2i(k != 0)
		}
		if nc == len(clients) {
			tAll = time.Now()
			break
		}
		if time.Since(tRel) > cfg.CatchupTimeout {
			logf("catch-up timeout: %d reconnected, %d resumed, %d caught up of %d", nr, ns, nc, len(clients))
			break
		}
		if time.Since(lastLog) >= time.Second {
			lastLog = time.Now()
			logf("[%5.1fs] reconnected %d, resumed %d, caught up %d / %d", time.Since(tRel).Seconds(), nr, ns, nc, len(clients))
		}
		time.Sleep(2 * time.Millisecond)
	}
	cpu1 := loadgen.ProcCPU(cfg.ServerPID)
	if !tAll.IsZero() {
		r.AllCaughtFromDropMs, r.AllCaughtFromReconnectMs = ms(tAll.Sub(tDrop)), ms(tAll.Sub(tRel))
		r.ServerRecoveryCPUMs = float64(cpu1-cpu0) / 1000
		r.ServerCPUPct = r.ServerRecoveryCPUMs / r.AllCaughtFromReconnectMs * 100
	}
	time.Sleep(cfg.Tail)
	pub.halt()
	logf("publishing stopped: %d accepted, %d failed, %d dropped by the generator", pub.total(), pub.failed.Load(), pub.dropped.Load())

	// Drain: every client holds every serial of its channel.
	// A channel's head: its first subscriber's serial plus what was
	// published to it (nothing is published before every client subscribed).
	head := func(s v2client.Stats, ch int) uint64 { return s.Base + uint64(pub.accepted[ch].Load()) }
	drainEnd := time.Now().Add(cfg.Drain)
	for time.Now().Before(drainEnd) {
		done := true
		for i, c := range clients {
			s := c.Stats()
			if h := head(s, i%cfg.Channels); s.Max < h || uint64(s.Distinct) < h-s.Base {
				done = false
				break
			}
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	closeAll() // the stats below are final

	r.PubAccepted, r.PubFailed, r.PubDropped = pub.total(), pub.failed.Load(), pub.dropped.Load()
	r.PubPerSec = float64(r.PubAccepted) / pub.t1.Sub(pub.t0).Seconds()
	r.PubRTT = quantiles(pub.lat)
	for m, n := range pub.errs {
		r.PubErrors = append(r.PubErrors, fmt.Sprintf("%d× %s", n, m))
	}
	var recon, resum, caught []float64
	r.FailedCodes = map[string]int{}
	for i, c := range clients {
		s := c.Stats()
		head := head(s, i%cfg.Channels)
		r.Expected += int64(head - s.Base)
		r.Received += s.Messages
		r.Duplicates += s.Duplicates
		r.Gaps += s.Missing(head)
		r.Below += s.Below
		r.NoSerial += s.NoSerial
		r.DedupDropped += s.DedupDropped
		r.Replayed += int64(s.Replayed)
		for _, f := range s.Failed {
			r.FailedCodes[f.Code+"/"+f.Reason]++
		}
		if s.Resumes > 0 {
			r.Resumed++
		}
		if s.Recovered > 0 && len(s.Failed) == 0 {
			r.Recovered++
		}
		a, b, k := c.Times()
		if a != 0 {
			r.Reconnected++
			recon = append(recon, msSince(tRel, a))
		}
		if b != 0 {
			resum = append(resum, msSince(tRel, b))
		}
		if k != 0 {
			r.CaughtUp++
			caught = append(caught, msSince(tRel, k))
		}
	}
	r.RecoveredPct = 100 * float64(r.Recovered) / float64(r.Dropped)
	r.ReconnectMs, r.ResumeMs, r.CaughtMs = pcts(recon), pcts(resum), pcts(caught)
	r.Errors = collectErrors(clients)
	r.OK = r.Recovered == r.Dropped && r.CaughtUp == r.Dropped && r.Duplicates == 0 && r.Gaps == 0 &&
		r.Below == 0 && r.NoSerial == 0 && r.PubFailed == 0 && r.PubAccepted > 0
	printTable(out, r)
	return r, loadgen.WriteJSON(cfg.JSON, r)
}

func collectErrors(clients []*v2client.Client) []string {
	count := map[string]int{}
	for _, c := range clients {
		for _, e := range c.Stats().Errors {
			count[e]++
		}
	}
	var out []string
	for e, n := range count {
		out = append(out, fmt.Sprintf("%d× %s", n, e))
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = out[:20]
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func msSince(t0 time.Time, unixNanos int64) float64 {
	return float64(unixNanos-t0.UnixNano()) / float64(time.Millisecond)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pcts is p50/p99/max of per-client times (nearest rank).
func pcts(v []float64) map[string]float64 {
	if len(v) == 0 {
		return nil
	}
	sort.Float64s(v)
	at := func(p float64) float64 {
		k := int(p/100*float64(len(v))+0.999999) - 1
		return v[min(max(k, 0), len(v)-1)]
	}
	return map[string]float64{"p50": at(50), "p99": at(99), "max": v[len(v)-1]}
}

func quantiles(h *hist.H) map[string]int64 {
	if h.Count() == 0 {
		return nil
	}
	return map[string]int64{"p50": h.Quantile(50), "p99": h.Quantile(99), "max": h.Max()}
}

// printTable writes the human report.
func printTable(w io.Writer, r *Result) {
	c := r.Config
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "  %-30s %s\n", k, fmt.Sprintf(format, a...)) }
	fmt.Fprintf(w, "== %s ==\n", r.Scenario)
	row("setup", "%d V2 clients / %d channels, %.0f events/s (%d publishers, %d B), warm-up %v, outage %v, tail %v",
		c.Clients, c.Channels, c.Rate, c.PubConc, c.Payload, c.Warmup, c.Outage, c.Tail)
	row("subscribed", "%d in %.2f s", r.Subscribed, r.ConnectSecs)
	if r.Dropped == 0 {
		row("errors", "%s", strings.Join(r.Errors, "; "))
		row("verdict", "FAIL")
		return
	}
	row("publishes", "%d accepted (%.0f /s), %d failed, %d dropped by generator; RTT p50 %.2f ms p99 %.2f ms",
		r.PubAccepted, r.PubPerSec, r.PubFailed, r.PubDropped, float64(r.PubRTT["p50"])/1000, float64(r.PubRTT["p99"])/1000)
	row("drop", "%d sockets closed in %.1f ms, reconnect %.0f ms after the drop", r.Dropped, r.DropMs, r.OutageMs)
	row("recovered", "%d / %d = %.1f %% (%d reconnected, %d got resume_success), %d messages replayed",
		r.Recovered, r.Dropped, r.RecoveredPct, r.Reconnected, r.Resumed, r.Replayed)
	for k, n := range r.FailedCodes {
		row("resume failed", "%d× %s", n, k)
	}
	row("messages", "%d received / %d expected; duplicates %d, gaps %d (raw frames, before dedup); dedup dropped %d",
		r.Received, r.Expected, r.Duplicates, r.Gaps, r.DedupDropped)
	if r.Below+r.NoSerial > 0 {
		row("unexpected", "%d before the subscription, %d without serial", r.Below, r.NoSerial)
	}
	p := func(m map[string]float64) string {
		if m == nil {
			return "-"
		}
		return fmt.Sprintf("p50 %.0f  p99 %.0f  max %.0f ms", m["p50"], m["p99"], m["max"])
	}
	row("from reconnect: connected", "%s", p(r.ReconnectMs))
	row("              resume_success", "%s", p(r.ResumeMs))
	row("              caught up", "%s (%d / %d)", p(r.CaughtMs), r.CaughtUp, r.Dropped)
	if r.CaughtUp == r.Dropped {
		row("all caught up", "%.0f ms after the reconnect, %.0f ms after the drop", r.AllCaughtFromReconnectMs, r.AllCaughtFromDropMs)
		if c.ServerPID > 0 {
			row("server CPU (recovery)", "%.0f ms = %.0f %% of a core", r.ServerRecoveryCPUMs, r.ServerCPUPct)
		}
	}
	for _, e := range r.PubErrors {
		row("publish error", "%s", e)
	}
	for _, e := range r.Errors {
		row("client error", "%s", e)
	}
	verdict := "OK"
	if !r.OK {
		verdict = "FAIL"
	}
	row("verdict", "%s", verdict)
}
