// Package loadgen is the Pusher-protocol load generator behind
// bench/cmd/loadgen: raw WebSocket subscribers read through epoll, a signed
// HTTP publisher, and the accounting (deliveries, HDR latency, /proc CPU and
// RSS of the server, loader rusage and GC).
package loadgen

import (
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"time"
)

// Config is everything one run needs; flags map 1:1 onto it.
type Config struct {
	WS, API                string
	AppID, Key, Secret     string
	Conns, Channels        int
	SrcIPs                 int
	SrcBase                string
	DialConc               int
	Rate                   float64
	Duration, Drain, Idle  time.Duration
	Payload, PubConc       int
	Batch                  int
	HTTPOnly               bool
	ServerPID              int
	Sample                 int
	Lazy                   time.Duration
	Window                 int
	Readers                int
	MaxPerProc             int
	Event                  string
	Metrics                string
	AlsoChannel            string
	JSON, SVG, Scenario    string
	Quiet                  bool
	CPUProfile             string
	Child                  bool
	ChildOffset, ChildSize int
}

func parseFlags(args []string, stderr io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.WS, "ws", "ws://127.0.0.1:6001", "WebSocket base URL (path /app/{key}?protocol=7 is added unless the URL has a path)")
	fs.StringVar(&c.API, "api", "http://127.0.0.1:6001", "HTTP API base URL")
	fs.StringVar(&c.AppID, "app-id", "bench", "app id")
	fs.StringVar(&c.Key, "key", "bench-key", "app key")
	fs.StringVar(&c.Secret, "secret", "bench-secret", "app secret")
	fs.IntVar(&c.Conns, "conns", 1000, "subscriber connections (children are spawned above -max-per-proc)")
	fs.IntVar(&c.Channels, "channels", 1, "channels; connection i subscribes to bench-(i % channels)")
	fs.IntVar(&c.SrcIPs, "src-ips", 4, "source addresses: connection i binds -src-base + (i % src-ips)")
	fs.StringVar(&c.SrcBase, "src-base", "127.0.0.2", "first source address (rotate it between runs to dodge TIME_WAIT)")
	fs.IntVar(&c.DialConc, "dial-conc", 64, "concurrent dials+handshakes (split across child loaders)")
	fs.Float64Var(&c.Rate, "rate", 5, "events published per second, open loop; 0 = closed loop to saturation")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "publish phase length")
	fs.DurationVar(&c.Drain, "drain", 10*time.Second, "max wait after the publish phase for deliveries still in flight")
	fs.DurationVar(&c.Idle, "idle", 0, "hold the subscribed connections idle this long before publishing and report server idle CPU")
	fs.IntVar(&c.Payload, "payload", 100, "event data size in bytes (T<19-digit unix nanos>|padding)")
	fs.IntVar(&c.PubConc, "pub-conc", 8, "HTTP publisher workers (one keep-alive connection each)")
	fs.IntVar(&c.Batch, "batch", 1, "events per request; >1 uses POST /apps/{id}/batch_events (max 10)")
	fs.BoolVar(&c.HTTPOnly, "http-only", false, "no subscribers: measure signed publishes accepted per second")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "server process id for /proc RSS and CPU (0 = not measured)")
	fs.IntVar(&c.Sample, "sample", 1, "time 1 subscriber in N (the others are counted and read lazily)")
	fs.DurationVar(&c.Lazy, "lazy", 20*time.Millisecond, "read interval of the untimed subscribers when -sample > 1")
	fs.IntVar(&c.Window, "window", 0, "closed loop: max deliveries in flight (0 = 4 publishes' worth of subscribers of the largest channel)")
	fs.IntVar(&c.Readers, "readers", runtime.GOMAXPROCS(0), "epoll reader goroutines for timed subscribers")
	fs.IntVar(&c.MaxPerProc, "max-per-proc", 19000, "connections per loader process (fd limit is 20,000 here)")
	fs.StringVar(&c.Event, "event", "bench-event", "event name")
	fs.StringVar(&c.Metrics, "metrics", "", "server metrics URL (http://HOST:PORT/metrics): report history entries stored during the run and their rate")
	fs.StringVar(&c.AlsoChannel, "also-channel", "", "a channel every connection subscribes to as well (the density scenario's big channel); its deliveries are counted and timed apart")
	fs.StringVar(&c.JSON, "json", "", "write the result as JSON to this file")
	fs.StringVar(&c.SVG, "svg", "", "write the latency percentile plot to this SVG file")
	fs.StringVar(&c.Scenario, "scenario", "adhoc", "scenario name for the report")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the loader's own CPU profile here (parent process only)")
	fs.BoolVar(&c.Child, "child", false, "internal: run as a child loader speaking JSON lines")
	fs.IntVar(&c.ChildOffset, "child-offset", 0, "internal: first global connection index")
	fs.IntVar(&c.ChildSize, "child-size", 0, "internal: connections in this child")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	switch {
	case c.Channels < 1:
		return nil, fmt.Errorf("-channels must be ≥ 1")
	case c.Batch < 1 || c.Batch > 10:
		return nil, fmt.Errorf("-batch must be 1..10")
	case c.Sample < 1:
		return nil, fmt.Errorf("-sample must be ≥ 1")
	case c.PubConc < 1 || c.DialConc < 1 || c.Readers < 1:
		return nil, fmt.Errorf("-pub-conc, -dial-conc and -readers must be ≥ 1")
	case c.MaxPerProc < 1:
		return nil, fmt.Errorf("-max-per-proc must be ≥ 1")
	case c.Rate < 0:
		return nil, fmt.Errorf("-rate must be ≥ 0")
	}
	if net.ParseIP(c.SrcBase).To4() == nil {
		return nil, fmt.Errorf("-src-base must be an IPv4 address")
	}
	if c.HTTPOnly {
		c.Conns = 0
	}
	if c.SrcIPs < 1 {
		c.SrcIPs = 1
	}
	if c.Payload < 21 {
		c.Payload = 21
	}
	return c, nil
}

// srcIP is the source address of global connection i.
func (c *Config) srcIP(i int) net.IP {
	b := net.ParseIP(c.SrcBase).To4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(i % c.SrcIPs)
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// channel is the channel name of index ch.
func channelName(ch int) string { return fmt.Sprintf("bench-%d", ch) }
