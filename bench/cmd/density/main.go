// Command density runs the "100,000 connections, one app, one box"
// scenario of issue 14: a local NATS, N server processes sharing one port
// with --reuse-port as one cluster, and K loader processes holding the
// connections, every one subscribed to one big channel and to one of many
// small channels. It prints one report and checks the targets.
//
//	cd bench && SOCKUDO_BIN=/path/to/sockudo go run ./cmd/density            # 100,000 conns
//	cd bench && SOCKUDO_BIN=/path/to/sockudo go run ./cmd/density -conns 10000 -servers 2 -loaders 1
//
// The binary is also the loader child ("density loadgen …").
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/children"
	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
	"github.com/sockudo/sockudo-go/bench/internal/ports"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "loadgen" {
		os.Exit(loadgen.Main(os.Args[2:], []string{"loadgen"}, os.Stdout, os.Stderr))
	}
	os.Exit(run())
}

// fdBudget is what one process may hold here (RLIMIT_NOFILE 20,000, soft =
// hard, not raisable) minus headroom for listeners, the bus, the API
// connections, epoll and log files.
const (
	serverFDBudget = 18000
	loaderFDBudget = 19000
)

type options struct {
	conns, servers, loaders, channels int
	srcIPs                            int
	rate                              float64
	duration, idle, settle            time.Duration
	big                               int
	pubConc                           int
	natsBin, outDir                   string
	bigChannel                        string
	serverFlags                       string
}

func run() int {
	var o options
	fs := flag.NewFlagSet("density", flag.ExitOnError)
	fs.IntVar(&o.conns, "conns", 100000, "WebSocket connections in total")
	fs.IntVar(&o.servers, "servers", 6, "server processes sharing the port (each must stay ≤ 18,000 connections)")
	fs.IntVar(&o.loaders, "loaders", 6, "loader processes (each ≤ 19,000 connections)")
	fs.IntVar(&o.channels, "channels", 1000, "small channels; connection i subscribes to bench-(i % channels) and to the big channel")
	fs.IntVar(&o.srcIPs, "src-ips", 40, "source addresses in 127.0.0.0/8 (28,232 ports each towards one server port)")
	fs.Float64Var(&o.rate, "rate", 2000, "publishes/s over the small channels (open loop)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "small-channel publish phase")
	fs.DurationVar(&o.idle, "idle", 10*time.Second, "idle phase: servers' CPU with every connection subscribed and nothing published")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "pause after the last subscribe before RSS is read")
	fs.IntVar(&o.big, "big", 1, "publishes to the big channel (1 s apart); each must reach every connection")
	fs.IntVar(&o.pubConc, "pub-conc", 32, "HTTP publisher workers in the small-channel phase")
	fs.StringVar(&o.natsBin, "nats", "/usr/sbin/nats-server", "nats-server binary (Debian package nats-server)")
	fs.StringVar(&o.outDir, "out", "", "directory for configs, server and NATS logs, density.json (default: a new temp dir)")
	fs.StringVar(&o.bigChannel, "big-channel", "bench-big", "name of the big channel")
	fs.StringVar(&o.serverFlags, "server-flags", "", "extra flags for every server, space-separated (e.g. --pprof: profiles on each server's metrics port, see server-N.config.json)")
	_ = fs.Parse(os.Args[1:])
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "density:", err)
		return 2
	}
	bin := os.Getenv("SOCKUDO_BIN")
	if bin == "" {
		fmt.Fprintln(os.Stderr, "density: set SOCKUDO_BIN to the server binary")
		return 2
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	if _, err := os.Stat(o.natsBin); err != nil {
		if p, lerr := exec.LookPath("nats-server"); lerr == nil {
			o.natsBin = p
		} else {
			fmt.Printf("density: SKIP: no nats-server at %s or in PATH (apt-get install nats-server)\n", o.natsBin)
			if os.Getenv("CI") == "true" {
				return 1
			}
			return 0
		}
	}
	if o.outDir == "" {
		d, err := os.MkdirTemp("", "sockudo-density-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		o.outDir = d
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	children.KillOnSignal("density", "killing NATS, servers and loaders")
	defer children.KillAll()

	start := time.Now()
	fmt.Printf("density: %d conns, %d servers, %d loaders, %d small channels; server %s; output %s\n",
		o.conns, o.servers, o.loaders, o.channels, bin, o.outDir)
	c, err := startCluster(bin, o)
	defer c.stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "density:", err)
		return 1
	}
	fmt.Printf("cluster up in %.1fs: NATS :%d, %d servers on :%d (pids %v)\n", time.Since(start).Seconds(), c.natsPort, o.servers, c.port, c.pids())

	// A fresh /16 of source addresses per run minute dodges TIME_WAIT left
	// by the previous run.
	rot := int(time.Now().Unix()/60)%200 + 20
	base := fmt.Sprintf("http://127.0.0.1:%d", c.port)
	args := []string{
		"-ws", fmt.Sprintf("ws://127.0.0.1:%d", c.port), "-api", base,
		"-app-id", "bench", "-key", "bench-key", "-secret", "bench-secret",
		"-conns", strconv.Itoa(o.conns), "-channels", strconv.Itoa(o.channels), "-also-channel", o.bigChannel,
		"-src-ips", strconv.Itoa(o.srcIPs), "-src-base", fmt.Sprintf("127.%d.0.2", rot),
		"-max-per-proc", strconv.Itoa((o.conns + o.loaders - 1) / o.loaders),
		"-rate", strconv.FormatFloat(o.rate, 'f', -1, 64), "-duration", o.duration.String(),
		"-pub-conc", strconv.Itoa(o.pubConc), "-scenario", "density", "-quiet",
		"-readers", strconv.Itoa(readers(o.loaders)),
	}
	res, err := loadgen.RunDensity(args, []string{"loadgen"}, loadgen.DensityOptions{
		ServerPIDs: c.pids(), BigPublishes: o.big, BigGap: time.Second, BigWait: 30 * time.Second,
		Settle: o.settle, Idle: o.idle, BusPID: c.nats.cmd.Process.Pid, BusMsgs: c.natsMsgs,
	}, os.Stdout)
	if dead := c.exited(); dead != "" {
		fmt.Fprintln(os.Stderr, "density:", dead)
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "density:", err)
		return 1
	}
	c.stop()
	total := time.Since(start)
	loadgen.PrintDensity(os.Stdout, res)
	if b, err := json.MarshalIndent(struct {
		*loadgen.DensityResult
		ScenarioSecs float64 `json:"scenario_secs"`
	}{res, total.Seconds()}, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(o.outDir, "density.json"), append(b, '\n'), 0o644)
	}
	miss := targets(res, total)
	fmt.Printf("  %-28s %.1f s (servers started → servers stopped)\n", "whole scenario", total.Seconds())
	fmt.Println("\ntargets (issue 14): 100 % delivery, ≤ 3 KiB server RSS/conn over all processes, big publish p99 ≤ 1 s, whole scenario ≤ 5 min")
	if len(miss) == 0 {
		fmt.Println("  all met")
	}
	for _, m := range miss {
		fmt.Println("  missed:", m)
	}
	fmt.Printf("JSON, configs and logs: %s\n", o.outDir)
	if !res.OK {
		fmt.Println("RESULT: FAIL (incomplete: see above)")
		return 1
	}
	fmt.Println("RESULT: PASS")
	return 0
}

// readers is the epoll reader goroutines per loader: one when there are
// several loaders (they already outnumber the 2 cores), else two.
func readers(loaders int) int {
	if loaders > 1 {
		return 1
	}
	return 2
}

func (o *options) check() error {
	switch {
	case o.conns < 1 || o.servers < 1 || o.loaders < 1 || o.channels < 1 || o.big < 1 || o.srcIPs < 1:
		return fmt.Errorf("-conns, -servers, -loaders, -channels, -big and -src-ips must be ≥ 1")
	case (o.conns+o.servers-1)/o.servers > serverFDBudget*95/100:
		// SO_REUSEPORT spreads by a hash of the 4-tuple, not evenly: keep
		// 5 % headroom under the per-process budget.
		return fmt.Errorf("%d conns over %d servers is more than %d per server (RLIMIT_NOFILE is 20,000 here): use more -servers",
			o.conns, o.servers, serverFDBudget*95/100)
	case (o.conns+o.loaders-1)/o.loaders > loaderFDBudget:
		return fmt.Errorf("%d conns over %d loaders is more than %d per loader: use more -loaders", o.conns, o.loaders, loaderFDBudget)
	case o.conns/o.srcIPs > 25000:
		return fmt.Errorf("%d conns from %d source addresses is more than 25,000 ports each (28,232 available): use more -src-ips", o.conns, o.srcIPs)
	}
	return nil
}

// targets returns the issue-14 targets missed.
func targets(r *loadgen.DensityResult, total time.Duration) []string {
	var miss []string
	if r.Big.DeliveryPct < 100 || r.Small.DeliveryPct < 100 {
		miss = append(miss, fmt.Sprintf("delivery big %.3f %%, small %.3f %%", r.Big.DeliveryPct, r.Small.DeliveryPct))
	}
	if r.KiBPerConnTotal > 3 {
		miss = append(miss, fmt.Sprintf("%.2f KiB RSS/conn over all servers (baseline %.2f + marginal %.2f), %.2f× the target",
			r.KiBPerConnTotal, r.KiBPerConnBase, r.KiBPerConnMarg, r.KiBPerConnTotal/3))
	}
	if p99 := r.Big.Latency["p99"]; p99 > 1_000_000 || r.Big.Timed == 0 {
		miss = append(miss, fmt.Sprintf("big publish p99 %.0f ms (last subscriber %.0f ms)", float64(p99)/1000, float64(r.Big.Latency["max"])/1000))
	}
	if total > 5*time.Minute {
		miss = append(miss, fmt.Sprintf("scenario took %.0f s", total.Seconds()))
	}
	return miss
}

// cluster is the NATS server and the server processes of one run.
type cluster struct {
	port, natsPort int
	natsMon        int // NATS monitoring port (/varz)
	nats           *proc
	servers        []*proc
}

// proc is one started process and its exit.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan error
	log    *os.File
}

func startProc(name, logPath string, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := children.Start(cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan error, 1), log: logf}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// gone reports whether p has exited (keeping the exit for later callers).
func (p *proc) gone() (bool, error) {
	select {
	case err := <-p.exited:
		p.exited <- err
		return true, err
	default:
		return false, nil
	}
}

// startErr is the error of a p that exited while starting, nil while it
// runs.
func (p *proc) startErr() error {
	if gone, err := p.gone(); gone {
		return fmt.Errorf("%s exited at start: %v (log %s)", p.name, err, p.log.Name())
	}
	return nil
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil {
		return
	}
	if gone, _ := p.gone(); !gone {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.exited:
			p.exited <- err
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
		}
	}
	children.Done(p.cmd)
	p.log.Close()
}

func startCluster(bin string, o options) (*cluster, error) {
	c := &cluster{}
	var err error
	if c.natsPort, err = ports.Free(nil); err != nil {
		return c, err
	}
	used := map[int]bool{c.natsPort: true}
	if c.natsMon, err = ports.Free(used); err != nil {
		return c, err
	}
	used[c.natsMon] = true
	c.nats, err = startProc("nats", filepath.Join(o.outDir, "nats.log"), o.natsBin,
		"-a", "127.0.0.1", "-p", strconv.Itoa(c.natsPort), "-m", strconv.Itoa(c.natsMon))
	if err != nil {
		return c, err
	}
	if err := waitTCP(fmt.Sprintf("127.0.0.1:%d", c.natsPort), c.nats, 10*time.Second); err != nil {
		return c, err
	}
	if c.port, err = ports.Free(used); err != nil {
		return c, err
	}
	used[c.port] = true
	for i := 0; i < o.servers; i++ {
		mport, err := ports.Free(used)
		if err != nil {
			return c, err
		}
		used[mport] = true
		name := fmt.Sprintf("server-%d", i)
		cfgPath := filepath.Join(o.outDir, name+".config.json")
		cfg := fmt.Sprintf(`{"port":%d,"metrics":{"port":%d},`+
			`"adapter":{"driver":"nats","nats":{"servers":["nats://127.0.0.1:%d"],"prefix":"density"}},`+
			`"instance":{"process_id":"density-%d"},`+
			`"app_manager":{"driver":"memory","array":{"apps":[{"id":"bench","key":"bench-key","secret":"bench-secret","enabled":true,"max_connections":0}]}},`+
			`"rate_limiter":{"enabled":false}}`, c.port, mport, c.natsPort, i)
		if err := os.WriteFile(cfgPath, []byte(cfg+"\n"), 0o644); err != nil {
			return c, err
		}
		args := append([]string{"--config", cfgPath, "--reuse-port"}, strings.Fields(o.serverFlags)...)
		p, err := startProc(name, filepath.Join(o.outDir, name+".log"), bin, args...)
		if err != nil {
			return c, err
		}
		c.servers = append(c.servers, p)
		if err := ports.WaitHTTP(&http.Client{Timeout: time.Second}, p.name, fmt.Sprintf("http://127.0.0.1:%d/ready", mport), 20*time.Second, p.startErr); err != nil {
			return c, err
		}
	}
	// A server that cannot reach the bus starts as a single node
	// (adapter.fallback_to_local): make sure every one is on NATS.
	deadline := time.Now().Add(10 * time.Second)
	for c.natsConns() < o.servers {
		if time.Now().After(deadline) {
			return c, fmt.Errorf("only %d of %d servers connected to NATS (logs in %s)", c.natsConns(), o.servers, o.outDir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, nil
}

// natsConns is the number of clients connected to NATS (-1 unknown).
func (c *cluster) natsConns() int {
	var v struct {
		Connections int `json:"connections"`
	}
	if err := c.varz(&v); err != nil {
		return -1
	}
	return v.Connections
}

// varz decodes the NATS monitoring endpoint /varz into v.
func (c *cluster) varz(v any) error {
	cl := &http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", c.natsMon))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// natsMsgs reads the NATS server's cumulative in_msgs and out_msgs.
func (c *cluster) natsMsgs() (in, out int64) {
	var v struct {
		In  int64 `json:"in_msgs"`
		Out int64 `json:"out_msgs"`
	}
	_ = c.varz(&v)
	return v.In, v.Out
}

func (c *cluster) pids() []int {
	v := make([]int, len(c.servers))
	for i, s := range c.servers {
		v[i] = s.cmd.Process.Pid
	}
	return v
}

// exited names every process of the cluster that is no longer running.
func (c *cluster) exited() string {
	var out []string
	for _, p := range append([]*proc{c.nats}, c.servers...) {
		if p == nil {
			continue
		}
		if gone, err := p.gone(); gone {
			out = append(out, fmt.Sprintf("%s exited during the run: %v (log %s)", p.name, err, p.log.Name()))
		}
	}
	return strings.Join(out, "; ")
}

// stop ends the servers (in parallel: each closes its connections), then NATS.
func (c *cluster) stop() {
	if c == nil {
		return
	}
	done := make(chan struct{}, len(c.servers))
	for _, s := range c.servers {
		go func() { s.stop(10 * time.Second); done <- struct{}{} }()
	}
	for range c.servers {
		<-done
	}
	c.servers = nil
	c.nats.stop(5 * time.Second)
	c.nats = nil
}

func waitTCP(addr string, p *proc, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := p.startErr(); err != nil {
			return err
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not listening on %s after %v", p.name, addr, d)
}
