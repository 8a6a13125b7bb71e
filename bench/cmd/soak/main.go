// Command soak runs the server for a while under mixed load and checks
// that it comes back to where it started (issue 7, "Soak").
//
//	cd bench && SOCKUDO_BIN=/path/to/sockudo go run ./cmd/soak            # 30 min
//	cd bench && SOCKUDO_BIN=/path/to/sockudo go run ./cmd/soak -short     # ≈45 s, CI
//
// It starts $SOCKUDO_BIN (or -bin) with a temporary Sockudo-schema config
// (one app, client events on, a webhook to a local receiver, batching on,
// rate limiter off), scrapes a baseline, then for -duration keeps
//   - -conns stable subscribers on private channels,
//   - HTTP publishes (-publish-rate/s: single channel, three channels,
//     batch_events) carrying a sequence number per channel,
//   - client events (-client-events/s) from the stable subscribers,
//   - connection churn (-churn/s: connect, subscribe to a private and a
//     public channel, hold 0.2–2 s, close in four ways),
//   - presence joins and leaves (-presence/s) watched by one observer per
//     presence channel,
//   - webhooks to a receiver that verifies X-Pusher-Signature,
//
// printing a progress line every 10 s. Then it stops the load, waits for
// the delayed webhooks, checks deliveries, gauges and webhooks, closes
// every connection, waits again and checks that goroutines, descriptors
// and heap are back to baseline. It prints a table and PASS/FAIL and exits
// 1 on FAIL. Every process it starts is killed on exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/children"
	"github.com/sockudo/sockudo-go/bench/internal/ports"
)

type config struct {
	duration         time.Duration
	conns            int
	channels         int
	churn            float64
	churnChannels    int
	publishRate      float64
	clientEvents     float64
	presence         float64
	presenceChannels int
	presenceUsers    int
	payload          int
	pubWorkers       int
	maxChurnConc     int
	quiet            time.Duration
	progress         time.Duration
	gorMargin        int
	fdMargin         int
	pprof            bool
	settle           time.Duration
	linger           time.Duration
}

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	var c config
	short := fs.Bool("short", false, "CI preset: 30 s of load at small sizes (≈45 s in all); explicit flags override it")
	fs.DurationVar(&c.duration, "duration", 30*time.Minute, "load duration")
	fs.IntVar(&c.conns, "conns", 500, "stable subscribers (held for the whole run)")
	fs.IntVar(&c.channels, "channels", 0, "stable private channels (default conns/10, at least 3)")
	fs.Float64Var(&c.churn, "churn", 50, "churn connections opened (and closed) per second")
	fs.IntVar(&c.churnChannels, "churn-channels", 0, "public channels only churn connections join, each used every 2×churn-channels/churn seconds so it vacates in between (default 8×churn, at least 20); every other churn connection joins one of 4 hot channels instead")
	fs.Float64Var(&c.publishRate, "publish-rate", 50, "HTTP publishes per second")
	fs.Float64Var(&c.clientEvents, "client-events", 20, "client events per second (spread over the stable subscribers)")
	fs.Float64Var(&c.presence, "presence", 10, "presence joins (and leaves) per second")
	fs.IntVar(&c.presenceChannels, "presence-channels", 10, "presence channels (one observer each)")
	fs.IntVar(&c.presenceUsers, "presence-users", 40, "user ids presence joins pick from")
	fs.IntVar(&c.payload, "payload", 200, "published data size in bytes")
	fs.IntVar(&c.pubWorkers, "pub-workers", 8, "concurrent HTTP publish requests")
	fs.IntVar(&c.maxChurnConc, "max-churn-conc", 2000, "cap on churn (and on presence) connections open at once")
	fs.DurationVar(&c.quiet, "quiet", 5*time.Second, "quiet period after stopping load and after closing all (> 3 s vacate delay)")
	fs.DurationVar(&c.progress, "progress", 10*time.Second, "progress line interval")
	fs.IntVar(&c.gorMargin, "goroutine-margin", 5, "allowed server goroutines above baseline at the end")
	fs.IntVar(&c.fdMargin, "fd-margin", 5, "allowed server open fds above baseline at the end")
	fs.BoolVar(&c.pprof, "pprof", true, "start the server with --pprof: every scrape of heap follows a forced GC (GET /debug/pprof/heap?gc=1), goroutine dumps and a heap profile go to -out")
	fs.DurationVar(&c.settle, "settle", 20*time.Second, "how long the end waits for goroutines, fds and heap to come back before judging")
	fs.DurationVar(&c.linger, "linger", 0, "after the verdict keep the idle server this long, printing goroutines/fds/heap every 10 s (diagnostics)")
	binFlag := fs.String("bin", "", "server binary (default $SOCKUDO_BIN)")
	outDir := fs.String("out", "", "directory for the config, server log and summary (default a new temp dir)")
	_ = fs.Parse(os.Args[1:])
	if *short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("duration", func() { c.duration = 30 * time.Second })
		def("conns", func() { c.conns = 100 })
		def("churn", func() { c.churn = 20 })
		def("publish-rate", func() { c.publishRate = 20 })
		def("client-events", func() { c.clientEvents = 10 })
		def("presence", func() { c.presence = 5 })
		def("presence-channels", func() { c.presenceChannels = 3 })
		def("presence-users", func() { c.presenceUsers = 12 })
		def("progress", func() { c.progress = 5 * time.Second })
		def("quiet", func() { c.quiet = 4 * time.Second })
	}
	if c.channels <= 0 {
		c.channels = max(3, c.conns/10)
	}
	if c.churnChannels <= 0 {
		c.churnChannels = max(20, int(8*c.churn))
	}
	c.presenceUsers = max(1, c.presenceUsers)
	if c.quiet <= 3*time.Second {
		fmt.Fprintln(os.Stderr, "soak: -quiet must be above the 3 s vacate delay")
		return 2
	}
	bin := *binFlag
	if bin == "" {
		bin = os.Getenv("SOCKUDO_BIN")
	}
	if bin == "" {
		fmt.Fprintln(os.Stderr, "soak: set SOCKUDO_BIN (or -bin) to the server binary")
		return 2
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	if *outDir == "" {
		d, err := os.MkdirTemp("", "sockudo-soak-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		*outDir = d
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	children.KillOnSignal("soak", "killing the server")
	defer children.KillAll()

	r, err := soakRun(c, bin, *outDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		fmt.Println("RESULT: FAIL")
		return 1
	}
	if !r {
		return 1
	}
	return 0
}

// check is one line of the summary.
type check struct {
	name, figure string
	ok           bool
	info         bool // shown, not judged
}

func soakRun(c config, bin, dir string) (bool, error) {
	start := time.Now()
	port, err := ports.Free(nil)
	if err != nil {
		return false, err
	}
	mport, err := ports.Free(nil)
	if err != nil {
		return false, err
	}
	hookLn, hport, err := listenPort()
	if err != nil {
		return false, err
	}
	s := &soak{cfg: c, wsAddr: fmt.Sprintf("127.0.0.1:%d", port), apiBase: fmt.Sprintf("http://127.0.0.1:%d", port),
		appID: "soak", key: "soak-key", secret: "soak-secret"}
	recv := newHookReceiver(hookLn, s.key, s.secret)
	defer recv.close()

	cfg := fmt.Sprintf(`{"port":%d,"metrics":{"port":%d},`+
		`"app_manager":{"driver":"memory","array":{"apps":[{"id":%q,"key":%q,"secret":%q,"enabled":true,"max_connections":0,`+
		`"enable_client_messages":true,"webhooks":[{"url":"http://127.0.0.1:%d/hook"}]}]}},`+
		`"webhooks":{"batching":{"enabled":true,"duration":100,"size":100}},"rate_limiter":{"enabled":false}}`,
		port, mport, s.appID, s.key, s.secret, hport)
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, []byte(cfg+"\n"), 0o644); err != nil {
		return false, err
	}
	srv, err := startServer(bin, cfgPath, filepath.Join(dir, "server.log"), c.pprof)
	if err != nil {
		return false, err
	}
	defer srv.stop()
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)
	debugURL := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", mport)
	// scrapeGC forces a GC first (with -pprof), so heap figures are live heap.
	scrapeGC := func() (scrape, error) {
		if c.pprof {
			if err := fetchTo(debugURL+"heap?gc=1", ""); err != nil {
				return nil, err
			}
		}
		return getMetrics(metricsURL)
	}
	dump := func(name, path string) {
		if c.pprof {
			if err := fetchTo(debugURL+path, filepath.Join(dir, name)); err != nil {
				fmt.Fprintf(os.Stderr, "soak: %s: %v\n", name, err)
			}
		}
	}
	if err := ports.WaitHTTP(scrapeClient, "server", s.apiBase+"/up", 15*time.Second, srv.alive); err != nil {
		return false, err
	}
	fmt.Printf("soak: server %s (pid %d), ws %s, metrics %s, webhooks :%d, output %s\n", bin, srv.cmd.Process.Pid, s.wsAddr, metricsURL, hport, dir)
	fmt.Printf("soak: %v load: %d stable conns on %d private channels, churn %.0f/s, publishes %.0f/s, client events %.0f/s, presence %.0f/s on %d channels\n",
		c.duration, c.conns, c.channels, c.churn, c.publishRate, c.clientEvents, c.presence, c.presenceChannels)

	// Baseline: settled server, no connection of ours.
	time.Sleep(500 * time.Millisecond)
	base, err := scrapeGC()
	if err != nil {
		return false, fmt.Errorf("baseline scrape: %w", err)
	}
	dump("goroutines-baseline.txt", "goroutine?debug=1")
	bGor, bFds, bHeap := base.get("go_goroutines", ""), base.get("process_open_fds", ""), base.heap()
	gauge := func(m scrape) float64 { return m.get("sockudo_active_connections", `app_id="soak"`) }
	fmt.Printf("baseline: goroutines %.0f, open fds %.0f, heap in use%s %s, active_connections %.0f\n", bGor, bFds, afterGC(c), mib(bHeap), gauge(base))

	s.pubClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.pubWorkers, MaxConnsPerHost: c.pubWorkers}}
	if err := s.openHeld(context.Background()); err != nil {
		return false, fmt.Errorf("opening stable connections: %w", err)
	}
	fmt.Printf("held: %d stable subscribers + %d presence observers connected (%.1f s)\n", len(s.stable), len(s.observers), time.Since(start).Seconds())

	// ---- load ----
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	loadStart := time.Now()
	var churnWG sync.WaitGroup
	var loops sync.WaitGroup
	for _, f := range []func(){
		func() { s.publishLoop(ctx) },
		func() { s.clientEventLoop(ctx) },
		func() { s.churnLoop(ctx, &churnWG) },
		func() { s.presenceLoop(ctx, &churnWG) },
	} {
		loops.Add(1)
		go func() { defer loops.Done(); f() }()
	}
	var peakGor, peakFds, peakHeap float64
	tick := time.NewTicker(c.progress)
	var serverErr error
progress:
	for {
		select {
		case <-ctx.Done():
			break progress
		case <-tick.C:
			if serverErr = srv.alive(); serverErr != nil {
				cancel()
				break progress
			}
			m, err := scrapeGC()
			if err != nil {
				fmt.Printf("t=%4.0fs scrape failed: %v\n", time.Since(loadStart).Seconds(), err)
				continue
			}
			g, f, h := m.get("go_goroutines", ""), m.get("process_open_fds", ""), m.heap()
			peakGor, peakFds, peakHeap = max(peakGor, g), max(peakFds, f), max(peakHeap, h)
			hs := recv.stats()
			mine := s.heldOpen() + int(s.churnOpen.Load()+s.presOpen.Load())
			fmt.Printf("t=%4.0fs conns mine %d srv %.0f | churn %d | presence %d | pub %d ev (err %d) | deliv %d | client ev %d→%d | hooks %d posts %d ev (bad %d) | srv gor %.0f heap %s fds %.0f\n",
				time.Since(loadStart).Seconds(), mine, gauge(m), s.churnOpened.Load(), s.presJoins.Load(),
				s.pubOK.Load(), s.pubErr.Load(), s.delivered.Load(), s.cevSent.Load(), s.cevDelivered.Load(),
				hs.posts, sumKinds(hs.kinds), hs.badSig+hs.badBody, g, mib(h), f)
		}
	}
	tick.Stop()
	cancel()
	loops.Wait()
	churnWG.Wait()
	s.pubClient.CloseIdleConnections()
	loadDur := time.Since(loadStart)
	if serverErr != nil {
		return false, serverErr
	}
	fmt.Printf("load stopped after %.0f s; waiting for deliveries and a %v quiet period\n", loadDur.Seconds(), c.quiet)

	// Deliveries: wait until nothing is missing (or 10 s).
	var d deliveryStats
	for until := time.Now().Add(10 * time.Second); ; {
		d = s.deliveries()
		if (d.pubLost == 0 && d.cevLost == 0) || time.Now().After(until) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Quiet period: churn channels vacate (3 s delay), the gauge settles.
	held := s.heldOpen()
	quietEnd := time.Now().Add(c.quiet)
	var mid scrape
	for {
		mid, err = getMetrics(metricsURL)
		if err != nil {
			return false, fmt.Errorf("scrape: %w", err)
		}
		if time.Now().After(quietEnd) && int(gauge(mid)) == held {
			break
		}
		if time.Now().After(quietEnd.Add(10 * time.Second)) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	held = s.heldOpen()
	d = s.deliveries()
	obsBad, obsExample, obsMemberBad := s.observerViews()
	midHooks := recv.stats()
	cevSent := s.cevSent.Load()
	clientEvHooks := midHooks.kinds["client_event"]

	// ---- close everything, wait, final scrape ----
	s.closeHeld()
	closedAt := time.Now()
	var fin scrape
	for {
		fin, err = getMetrics(metricsURL)
		if err != nil {
			return false, fmt.Errorf("scrape: %w", err)
		}
		hs := recv.stats()
		settled := gauge(fin) == 0 && time.Since(closedAt) > c.quiet && hs.unbalancedCh == 0 && hs.unbalancedMemb == 0 && hs.idle > time.Second
		if settled || time.Since(closedAt) > c.quiet+15*time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	hooks := recv.stats()
	recv.dropIdle() // the server's webhook client lets go of its keep-alive sockets
	settleStart := time.Now()
	resEnd := settleStart.Add(c.settle)
	heapLimit := max(2*bHeap, bHeap+16<<20)
	for {
		time.Sleep(500 * time.Millisecond)
		fin, err = scrapeGC()
		if err != nil {
			return false, fmt.Errorf("scrape: %w", err)
		}
		if (fin.get("go_goroutines", "") <= bGor+float64(c.gorMargin) && fin.get("process_open_fds", "") <= bFds+float64(c.fdMargin) && fin.heap() <= heapLimit) || time.Now().After(resEnd) {
			break
		}
	}
	settled := time.Since(settleStart)
	dump("goroutines-end.txt", "goroutine?debug=1")
	dump("heap-end.pb.gz", "heap")
	if err := srv.alive(); err != nil {
		return false, err
	}

	// ---- checks ----
	var cs []check
	add := func(name string, ok bool, format string, a ...any) {
		cs = append(cs, check{name: name, figure: fmt.Sprintf(format, a...), ok: ok})
	}
	info := func(name string, format string, a ...any) {
		cs = append(cs, check{name: name, figure: fmt.Sprintf(format, a...), ok: true, info: true})
	}
	info("load", "%.0f s; peak server goroutines %.0f, fds %.0f, heap in use %s", loadDur.Seconds(), peakGor, peakFds, mib(peakHeap))
	add("stable connections kept", d.lostConns == 0 && held == len(s.stable)+len(s.observers),
		"%d of %d held to the end (%d lost)", held, len(s.stable)+len(s.observers), d.lostConns)
	add("HTTP publishes", s.pubErr.Load() == 0 && s.pubSkipped.Load() == 0,
		"%d requests → %d channel events accepted, %d errors, %d skipped (workers busy)", s.pubReq.Load(), s.pubOK.Load(), s.pubErr.Load(), s.pubSkipped.Load())
	add("published events delivered", d.pubLost == 0 && d.pubDup == 0 && d.pubExpected > 0,
		"%d of %d to stable subscribers; lost %d, duplicates %d", d.pubGot, d.pubExpected, d.pubLost, d.pubDup)
	if d.pubUnacked > 0 {
		info("delivered but not acknowledged", "%d (publish request failed on our side)", d.pubUnacked)
	}
	add("client events delivered", d.cevLost == 0 && d.cevDup == 0 && d.cevOwn == 0 && s.cevSendErr.Load() == 0 && (cevSent > 0 || c.clientEvents == 0),
		"%d sent; %d of %d to the other stable subscribers; lost %d, duplicates %d, echoed to sender %d, send errors %d",
		cevSent, d.cevGot, d.cevExpected, d.cevLost, d.cevDup, d.cevOwn, s.cevSendErr.Load())
	add("no stray events or errors", d.wrongCh == 0 && d.errs == 0, "wrong channel/unparsable %d, pusher:error on held conns %d", d.wrongCh, d.errs)
	add("churn", s.churnErr.Load() == 0 && s.churnKicked.Load() == 0,
		"%d connections opened/closed (%.1f/s), connect/subscribe errors %d, closed by server %d, skipped %d",
		s.churnOpened.Load(), float64(s.churnOpened.Load())/loadDur.Seconds(), s.churnErr.Load(), s.churnKicked.Load(), s.churnSkipped.Load())
	add("presence", s.presErr.Load() == 0 && s.presKicked.Load() == 0 && obsBad == 0 && obsMemberBad == 0,
		"%d joins, %d leaves, errors %d, closed by server %d; observers with a wrong member list %d %s, inconsistent member events %d",
		s.presJoins.Load(), s.presLeaves.Load(), s.presErr.Load(), s.presKicked.Load(), obsBad, obsExample, obsMemberBad)
	add("active_connections while held", int(gauge(mid)) == held, "gauge %.0f, connections held %d", gauge(mid), held)
	midCh := mid.sum("sockudo_active_channels")
	add("active_channels / presence members while held", int(midCh) == c.channels+len(s.observers) && int(mid.get("sockudo_presence_channel_members", `app_id="soak"`)) == len(s.observers),
		"channels %.0f (want %d), presence members %.0f (want %d)", midCh, c.channels+len(s.observers), mid.get("sockudo_presence_channel_members", `app_id="soak"`), len(s.observers))
	add("active_connections after closing all", gauge(fin) == gauge(base), "gauge %.0f (baseline %.0f)", gauge(fin), gauge(base))
	nc, nd := fin.get("sockudo_new_connections_total", `app_id="soak"`), fin.get("sockudo_new_disconnections_total", `app_id="soak"`)
	opened := int64(len(s.stable)+len(s.observers)) + s.churnOpened.Load() + s.presOpened.Load()
	add("connection counters", nc == nd && int64(nc) == opened, "new_connections %.0f (we opened %d), new_disconnections %.0f", nc, opened, nd)
	add("channels / members after closing all", fin.sum("sockudo_active_channels") == 0 && fin.get("sockudo_presence_channel_members", `app_id="soak"`) == 0,
		"active_channels %.0f, presence members %.0f", fin.sum("sockudo_active_channels"), fin.get("sockudo_presence_channel_members", `app_id="soak"`))
	g, f, h := fin.get("go_goroutines", ""), fin.get("process_open_fds", ""), fin.heap()
	info("end scrape", "%.1f s after closing all (resources settled in %.1f s)", time.Since(closedAt).Seconds(), settled.Seconds())
	add("goroutines back to baseline", g <= bGor+float64(c.gorMargin), "%.0f (baseline %.0f, +%d allowed)", g, bGor, c.gorMargin)
	add("open fds back to baseline", f <= bFds+float64(c.fdMargin), "%.0f (baseline %.0f, +%d allowed)", f, bFds, c.fdMargin)
	add("heap in use back to baseline", h <= heapLimit, "%s (baseline %s, limit %s)%s", mib(h), mib(bHeap), mib(heapLimit), afterGC(c))
	failed := fin.get("sockudo_queue_jobs_failed_total", "")
	non2xx := fin.sum("sockudo_webhook_deliveries_total") - fin.get("sockudo_webhook_deliveries_total", `status="2xx"`)
	ok2xx := fin.get("sockudo_webhook_deliveries_total", `status="2xx"`)
	add("webhooks delivered", hooks.badSig == 0 && hooks.badBody == 0 && failed == 0 && non2xx == 0 && int(ok2xx) == hooks.posts && hooks.posts > 0,
		"%d POSTs verified (server 2xx %.0f), bad signature %d, bad body %d, non-2xx/errors %.0f, queue_jobs_failed %.0f, retries %.0f",
		hooks.posts, ok2xx, hooks.badSig, hooks.badBody, non2xx, failed, fin.get("sockudo_webhook_retries_total", ""))
	info("webhook events", "%s", kindsLine(hooks.kinds))
	add("client_event webhooks", clientEvHooks == int(cevSent) && hooks.clientEvDup == 0, "%d for %d client events (duplicates %d)", clientEvHooks, cevSent, hooks.clientEvDup)
	missingOcc := 0
	for _, ch := range s.usedChannels() {
		if !recv.occupiedSeen(ch) {
			missingOcc++
		}
	}
	add("occupied/vacated balanced", hooks.unbalancedCh == 0 && missingOcc == 0,
		"%d channels, %d unbalanced, %d used channels with no channel_occupied %s", hooks.channels, hooks.unbalancedCh, missingOcc, strings.Join(hooks.examples, "; "))
	add("member_added/removed balanced", hooks.unbalancedMemb == 0 && (hooks.memberPairs > 0 || c.presence == 0),
		"%d channel/user pairs, %d unbalanced", hooks.memberPairs, hooks.unbalancedMemb)
	info("webhook order", "%d occupied/vacated or added/removed out of alternation", hooks.outOfOrder)
	s.errMu.Lock()
	var firsts []string
	for k, v := range s.errFirst {
		firsts = append(firsts, k+": "+v)
	}
	s.errMu.Unlock()
	sort.Strings(firsts)

	// ---- summary ----
	var out strings.Builder
	pass := true
	fmt.Fprintf(&out, "\n=== sockudo soak, %s, %v load, %.0f s in all ===\n", time.Now().UTC().Format(time.RFC3339), c.duration, time.Since(start).Seconds())
	fmt.Fprintf(&out, "%-46s %-6s %s\n", "check", "result", "figures")
	for _, k := range cs {
		res := "ok"
		switch {
		case k.info:
			res = "-"
		case !k.ok:
			res = "FAIL"
			pass = false
		}
		fmt.Fprintf(&out, "%-46s %-6s %s\n", k.name, res, k.figure)
	}
	for _, e := range firsts {
		fmt.Fprintf(&out, "first error: %s\n", e)
	}
	fmt.Fprintf(&out, "config, server log, summary: %s\n", dir)
	if pass {
		fmt.Fprintln(&out, "RESULT: PASS")
	} else {
		fmt.Fprintln(&out, "RESULT: FAIL")
	}
	fmt.Print(out.String())
	_ = os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(out.String()), 0o644)
	for t0 := time.Now(); time.Since(t0) < c.linger; {
		time.Sleep(min(10*time.Second, c.linger-time.Since(t0)))
		m, err := scrapeGC()
		if err != nil {
			fmt.Printf("linger: %v\n", err)
			break
		}
		fmt.Printf("linger +%3.0fs: goroutines %.0f, fds %.0f, heap in use%s %s, active_connections %.0f\n", time.Since(closedAt).Seconds(),
			m.get("go_goroutines", ""), m.get("process_open_fds", ""), afterGC(c), mib(m.heap()), gauge(m))
	}
	return pass, nil
}

func (s *soak) usedChannels() []string {
	var chs []string
	for _, c := range s.chans {
		chs = append(chs, c.name)
	}
	for _, h := range s.observers {
		chs = append(chs, h.channel)
	}
	s.churnSeen.Range(func(k, _ any) bool { chs = append(chs, k.(string)); return true })
	return chs
}

func afterGC(c config) string {
	if c.pprof {
		return " after GC"
	}
	return ""
}

// fetchTo GETs url into path ("" = discard).
func fetchTo(url, path string) error {
	resp, err := scrapeClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var w io.Writer = io.Discard
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func sumKinds(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func kindsLine(m map[string]int) string {
	var ks []string
	for k, v := range m {
		ks = append(ks, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}
