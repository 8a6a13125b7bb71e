// Package tickerdelta is issue 13's scenario over real sockets: N V2
// clients subscribed to one ticker channel, with or without delta
// compression negotiated as the official client does, receive a ticker
// payload (20 fields, 2 change per message) published at a fixed rate
// through the signed HTTP API. It reports the server's CPU per delivery,
// the bytes each delivery took on the wire, and that every payload
// arrived and was reconstructed byte for byte.
package tickerdelta

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
	"github.com/sockudo/sockudo-go/bench/internal/v2client"
)

// Config is one run; flags map 1:1 onto it.
type Config struct {
	WS, API            string
	AppID, Key, Secret string
	Clients            int
	Delta              bool
	Channel, Event     string
	Rate               float64
	Messages, Warmup   int
	Seed               uint64
	SrcBase            string
	SrcIPs             int
	ServerPID          int
	Drain              time.Duration
	ReadEvery          time.Duration
	JSON, Scenario     string
	Quiet              bool
}

func parseFlags(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("delta", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.WS, "ws", "ws://127.0.0.1:6001", "WebSocket base URL (host:port is used)")
	fs.StringVar(&c.API, "api", "http://127.0.0.1:6001", "HTTP API base URL")
	fs.StringVar(&c.AppID, "app-id", "bench", "app id")
	fs.StringVar(&c.Key, "key", "bench-key", "app key")
	fs.StringVar(&c.Secret, "secret", "bench-secret", "app secret")
	fs.IntVar(&c.Clients, "clients", 10000, "V2 clients, all on -channel")
	fs.BoolVar(&c.Delta, "delta", false, "clients send sockudo:enable_delta_compression (as the official client with deltaCompression.enabled)")
	fs.StringVar(&c.Channel, "channel", "ticker", "channel")
	fs.StringVar(&c.Event, "event", "quote", "event name")
	fs.Float64Var(&c.Rate, "rate", 5, "publishes per second of the measured window")
	fs.IntVar(&c.Messages, "messages", 100, "messages in the measured window")
	fs.IntVar(&c.Warmup, "warmup", 2, "messages before the window (every client's first two frames are full)")
	fs.Uint64Var(&c.Seed, "seed", 1, "payload generator seed")
	fs.StringVar(&c.SrcBase, "src-base", "127.0.0.2", "first source address")
	fs.IntVar(&c.SrcIPs, "src-ips", 4, "source addresses: client i binds -src-base + (i % src-ips)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "server process id for /proc CPU (0 = not measured)")
	fs.DurationVar(&c.ReadEvery, "read-every", 20*time.Millisecond, "each client reads its socket at most this often (0: as frames arrive); see newShared")
	fs.DurationVar(&c.Drain, "drain", 30*time.Second, "max wait after a publish phase for every client to hold every message")
	fs.StringVar(&c.JSON, "json", "", "write the result as JSON to this file")
	fs.StringVar(&c.Scenario, "scenario", "delta", "scenario name for the report")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case c.Clients < 1 || c.Messages < 1 || c.Warmup < 0:
		return nil, fmt.Errorf("need -clients ≥ 1, -messages ≥ 1, -warmup ≥ 0")
	case c.Rate <= 0:
		return nil, fmt.Errorf("-rate must be > 0")
	case net.ParseIP(c.SrcBase).To4() == nil:
		return nil, fmt.Errorf("-src-base must be an IPv4 address")
	}
	c.SrcIPs = max(c.SrcIPs, 1)
	return c, nil
}

// Result is one run, as written to -json. Byte and frame figures cover
// the measured window only (messages Warmup… of every client).
type Result struct {
	Scenario string  `json:"scenario"`
	Config   *Config `json:"config"`

	Subscribed  int     `json:"subscribed"`
	ConnectSecs float64 `json:"connect_secs"`
	Published   int     `json:"published"`
	PubFailed   int     `json:"publishes_failed"`

	Expected int64 `json:"deliveries_expected"` // clients × (warmup + messages)
	Received int64 `json:"deliveries_received"`
	Exact    int64 `json:"payloads_exact"` // reconstructed and equal to the published payload
	Resyncs  int64 `json:"resyncs"`

	FullFrames    int64   `json:"full_frames"`
	DeltaFrames   int64   `json:"delta_frames"`
	WireBytes     int64   `json:"wire_bytes"` // WebSocket header + payload
	AvgFull       float64 `json:"avg_full_payload_bytes"`
	AvgDelta      float64 `json:"avg_delta_payload_bytes"`
	BytesPerDeliv float64 `json:"wire_bytes_per_delivery"`
	SampleFull    string  `json:"sample_full_frame,omitempty"`
	SampleDelta   string  `json:"sample_delta_frame,omitempty"`

	WindowSecs          float64 `json:"window_secs"` // first measured publish → every client holds the last
	ServerCPUUs         int64   `json:"server_cpu_us"`
	ServerUsPerDelivery float64 `json:"server_us_per_delivery"`
	// The split matters over loopback: the write syscall (sys) also runs
	// the receiver's TCP input and wake-up, which depends on how busy the
	// loader is; the engine's own work (deltas included) is user time.
	ServerUserUsPerDelivery float64 `json:"server_user_us_per_delivery"`
	ServerSysUsPerDelivery  float64 `json:"server_sys_us_per_delivery"`
	LoaderUsPerDelivery     float64 `json:"loader_us_per_delivery"`

	Errors []string `json:"errors,omitempty"`
	OK     bool     `json:"ok"`
}

// Main runs the scenario with command-line args.
func Main(args []string, stdout, stderr io.Writer) int {
	return loadgen.SubcommandMain("delta", args, stdout, stderr, parseFlags, Run, func(r *Result) bool { return r.OK })
}

// Run executes one scenario and writes the report.
func Run(cfg *Config, out io.Writer) (*Result, error) {
	logf := loadgen.Progress(out, cfg.Quiet)
	host, err := loadgen.WSHost(cfg.WS)
	if err != nil {
		return nil, err
	}
	post, err := loadgen.NewPoster(cfg.API, cfg.Key, cfg.Secret)
	if err != nil {
		return nil, err
	}
	defer post.Close()
	sh := newShared(host, cfg.Key, cfg.Channel, cfg.Event, cfg.Delta, Quotes(cfg.Warmup+cfg.Messages, cfg.Seed), cfg.Warmup)
	sh.readEvery = cfg.ReadEvery
	sh.srcIP = v2client.SourceIPs(net.ParseIP(cfg.SrcBase), cfg.SrcIPs)
	r := &Result{Scenario: cfg.Scenario, Config: cfg}
	clients := make([]*client, cfg.Clients)
	var wg sync.WaitGroup
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
		wg.Wait()
	}()

	// Connect: 64 handshakes in flight, as the other loaders dial.
	t0 := time.Now()
	r.Subscribed = v2client.ConnectAll(cfg.Clients, &wg, func(i int) (func(), <-chan struct{}) {
		c := newClient(sh, i)
		clients[i] = c
		return c.run, c.ready
	})
	r.ConnectSecs = time.Since(t0).Seconds()
	logf("# %s: %d V2 clients subscribed to %s (delta %v) in %.2f s", cfg.Scenario, r.Subscribed, cfg.Channel, cfg.Delta, r.ConnectSecs)
	if r.Subscribed < cfg.Clients {
		return finish(cfg, r, clients, out)
	}

	pub := func(k int) {
		body := `{"name":` + jsonString(cfg.Event) + `,"channel":` + jsonString(cfg.Channel) +
			`,"data":` + jsonString(sh.want[k]) + `}`
		status, msg, err := post.Post("/apps/"+cfg.AppID+"/events", []byte(body))
		if err != nil || status != 200 {
			r.PubFailed++
			r.Errors = append(r.Errors, fmt.Sprintf("publish %d: HTTP %d %s %v", k, status, msg, err))
			return
		}
		r.Published++
	}
	allHave := func(n int64) bool {
		end := time.Now().Add(cfg.Drain)
		for time.Now().Before(end) {
			ok := true
			for _, c := range clients {
				if c.n.got.Load() < n {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	}
	// Warm-up: every client's first frames are full; the window starts
	// once each holds them and the server is quiet.
	for k := 0; k < cfg.Warmup; k++ {
		pub(k)
	}
	if !allHave(int64(cfg.Warmup)) {
		r.Errors = append(r.Errors, "warm-up messages not delivered to every client")
		return finish(cfg, r, clients, out)
	}
	period := time.Duration(float64(time.Second) / cfg.Rate)
	cpu0, self0 := loadgen.ProcCPU(cfg.ServerPID), loadgen.SelfCPU()
	user0, sys0 := procUserSys(cfg.ServerPID)
	tw := time.Now()
	for k := cfg.Warmup; k < cfg.Warmup+cfg.Messages; k++ {
		time.Sleep(time.Until(tw.Add(time.Duration(k-cfg.Warmup) * period)))
		pub(k)
	}
	delivered := allHave(int64(cfg.Warmup + cfg.Messages))
	r.WindowSecs = time.Since(tw).Seconds()
	r.ServerCPUUs = loadgen.ProcCPU(cfg.ServerPID) - cpu0
	user1, sys1 := procUserSys(cfg.ServerPID)
	loaderUs := loadgen.SelfCPU() - self0
	if !delivered {
		r.Errors = append(r.Errors, "not every client got every message within -drain")
	}
	n := float64(cfg.Clients) * float64(cfg.Messages)
	r.ServerUsPerDelivery = float64(r.ServerCPUUs) / n
	r.ServerUserUsPerDelivery, r.ServerSysUsPerDelivery = float64(user1-user0)/n, float64(sys1-sys0)/n
	r.LoaderUsPerDelivery = float64(loaderUs) / n
	logf("window %.1f s: server %.2f µs CPU/delivery (user %.2f, sys %.2f)", r.WindowSecs, r.ServerUsPerDelivery,
		r.ServerUserUsPerDelivery, r.ServerSysUsPerDelivery)
	return finish(cfg, r, clients, out)
}

// finish sums the clients' figures, judges the run and writes it.
func finish(cfg *Config, r *Result, clients []*client, out io.Writer) (*Result, error) {
	var fullB, deltaB int64
	for _, c := range clients {
		if c == nil {
			continue
		}
		r.Received += c.n.got.Load()
		r.Exact += c.n.exact.Load()
		r.Resyncs += c.n.resyncs.Load()
		r.FullFrames += c.n.fulls.Load()
		r.DeltaFrames += c.n.deltas.Load()
		r.WireBytes += c.n.wireBytes.Load()
		fullB += c.n.fullBytes.Load()
		deltaB += c.n.deltaBytes.Load()
		c.mu.Lock()
		for _, e := range c.errs {
			if len(r.Errors) < 10 {
				r.Errors = append(r.Errors, fmt.Sprintf("client %d: %s", c.idx, e))
			}
		}
		if c.idx == 0 {
			r.SampleFull, r.SampleDelta = c.sample[0], c.sample[1]
		}
		c.mu.Unlock()
	}
	if r.FullFrames > 0 {
		r.AvgFull = float64(fullB) / float64(r.FullFrames)
	}
	if r.DeltaFrames > 0 {
		r.AvgDelta = float64(deltaB) / float64(r.DeltaFrames)
	}
	if d := r.FullFrames + r.DeltaFrames; d > 0 {
		r.BytesPerDeliv = float64(r.WireBytes) / float64(d)
	}
	r.Expected = int64(cfg.Clients) * int64(cfg.Warmup+cfg.Messages)
	r.OK = r.Subscribed == cfg.Clients && r.PubFailed == 0 && r.Received == r.Expected &&
		r.Exact == r.Expected && r.Resyncs == 0
	if !cfg.Quiet {
		fmt.Fprintf(out, "%s: received %d/%d, exact %d, resyncs %d; frames full %d (avg %.1f B) delta %d (avg %.1f B); %.1f wire B/delivery; server %.2f µs/delivery, loader %.2f µs/delivery; ok %v\n",
			r.Scenario, r.Received, r.Expected, r.Exact, r.Resyncs, r.FullFrames, r.AvgFull, r.DeltaFrames, r.AvgDelta,
			r.BytesPerDeliv, r.ServerUsPerDelivery, r.LoaderUsPerDelivery, r.OK)
		for _, e := range r.Errors {
			fmt.Fprintln(out, "  error:", e)
		}
	}
	return r, loadgen.WriteJSON(cfg.JSON, r)
}

// procUserSys is pid's user and system CPU in µs (0, 0 when unknown):
// /proc/<pid>/stat fields 14 and 15, in USER_HZ (100) ticks.
func procUserSys(pid int) (user, sys int64) {
	if pid <= 0 {
		return 0, 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u * 10_000, s * 10_000
}
