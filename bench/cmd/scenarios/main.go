// Command scenarios runs the five scenarios of issue 6 against a server
// binary (env SOCKUDO_BIN), each against a fresh server started with a
// temporary Sockudo-schema config, and prints one table.
//
//	cd bench && SOCKUDO_BIN=/path/to/sockudo go run ./cmd/scenarios -mode smoke
//	cd bench && SOCKUDO_BIN=/path/to/sockudo go run ./cmd/scenarios -mode full
//
// The binary is also the load generator and the floor probe
// ("scenarios loadgen …", "scenarios floor …"), so child processes re-enter
// it with a subcommand.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/children"
	"github.com/sockudo/sockudo-go/bench/internal/floor"
	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
	"github.com/sockudo/sockudo-go/bench/internal/pgserver"
	"github.com/sockudo/sockudo-go/bench/internal/ports"
	"github.com/sockudo/sockudo-go/bench/internal/resume"
	"github.com/sockudo/sockudo-go/bench/internal/tickerdelta"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "loadgen":
			os.Exit(loadgen.Main(os.Args[2:], []string{"loadgen"}, os.Stdout, os.Stderr))
		case "floor":
			os.Exit(floor.Main(os.Args[2:], []string{"floor"}, os.Stdout, os.Stderr))
		case "resume":
			os.Exit(resume.Main(os.Args[2:], os.Stdout, os.Stderr))
		case "delta":
			os.Exit(tickerdelta.Main(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(run())
}

// scenario is one loadgen (or resume) invocation against a fresh server.
type scenario struct {
	name    string
	target  string
	args    []string
	check   func(r *loadgen.Result, floorUs float64) string // "" = target met
	sub     string                                          // subcommand: "" = loadgen, "resume", "delta"
	config  string                                          // JSON members added to the server config
	history bool                                            // report the history writer (-metrics)
	pg      bool                                            // history in the run's PostgreSQL
	// vsFloors compares the server with this run's same-pattern floors
	// (issue 14's syscall-bound rows), beside the target's verdict.
	vsFloors func(r *loadgen.Result, f *sameRunFloors) string
}

// row is one scenario run in the summary.
type row struct {
	s       scenario
	name    string
	r       *loadgen.Result
	rr      *resume.Result
	dr      *tickerdelta.Result
	pgCPUUs int64 // PostgreSQL CPU over the run (history scenarios)
	err     string
	miss    string
}

func scenarios(mode string) []scenario {
	return append(append(v1Scenarios(mode), v2Scenarios(mode)...), deltaScenarios(mode)...)
}

func v1Scenarios(mode string) []scenario {
	if mode == "smoke" {
		return []scenario{
			{name: "1-idle", args: a("-conns 200 -channels 20 -duration 0 -idle 1s")},
			{name: "2-broadcast", args: a("-conns 200 -channels 1 -rate 5 -duration 3s")},
			{name: "2-broadcast-sampled", args: a("-conns 200 -channels 1 -rate 5 -duration 3s -sample 10")},
			{name: "3-saturation", args: a("-conns 200 -channels 1 -rate 0 -duration 3s -pub-conc 4")},
			{name: "4-many-channels", args: a("-conns 200 -channels 20 -rate 200 -duration 3s -pub-conc 8")},
			{name: "5-http-publish", args: a("-http-only -rate 0 -duration 2s -pub-conc 8")},
			{name: "5-http-batch", args: a("-http-only -rate 0 -duration 2s -pub-conc 8 -batch 10")},
			{name: "4-many-channels-2proc", args: a("-conns 300 -channels 30 -rate 200 -duration 2s -max-per-proc 150")},
		}
	}
	return []scenario{
		{name: "1-idle", target: "19,000 conns, ≤2 KiB/conn, 0% idle CPU, ≥6,000 connect/s (issue 14)",
			args: a("-conns 19000 -channels 100 -duration 0 -idle 10s -src-ips 4"),
			check: func(r *loadgen.Result, _ float64) string {
				var miss []string
				if r.ConnOK < 19000 {
					miss = append(miss, fmt.Sprintf("%d conns", r.ConnOK))
				}
				if r.KiBPerConn > 2 {
					miss = append(miss, fmt.Sprintf("%.2f KiB/conn", r.KiBPerConn))
				}
				if r.ServerIdleCPUPct > 0.5 {
					miss = append(miss, fmt.Sprintf("idle CPU %.2f%%", r.ServerIdleCPUPct))
				}
				if r.ConnectPerSec < 6000 {
					miss = append(miss, fmt.Sprintf("%.0f connect/s", r.ConnectPerSec))
				}
				return strings.Join(miss, ", ")
			}},
		{name: "2-broadcast", target: "100%, srv µs/deliv ≤ 1.2× floor, p99 ≤ 150 ms (all timed)",
			args: a("-conns 10000 -channels 1 -rate 5 -duration 10s"),
			check: func(r *loadgen.Result, f float64) string {
				return broadcastCheck(r, f, 150)
			}},
		{name: "2-broadcast-sampled", target: "as above, p99 ≤ 100 ms (1 in 10 timed; issue 14)",
			args: a("-conns 10000 -channels 1 -rate 5 -duration 10s -sample 10"),
			check: func(r *loadgen.Result, f float64) string {
				return broadcastCheck(r, f, 100)
			}},
		{name: "3-saturation", target: "≥ 250k deliveries/s at 100%, ≤ 5 µs srv CPU/deliv",
			args: a("-conns 10000 -channels 1 -rate 0 -duration 10s -pub-conc 4 -sample 10"),
			check: func(r *loadgen.Result, _ float64) string {
				var miss []string
				if r.DeliveryPct < 100 {
					miss = append(miss, fmt.Sprintf("%.3f%% delivered", r.DeliveryPct))
				}
				if r.DeliveriesPS < 250000 {
					miss = append(miss, fmt.Sprintf("%.0f deliv/s", r.DeliveriesPS))
				}
				if r.ServerUsPerDelivery > 5 {
					miss = append(miss, fmt.Sprintf("%.2f µs/deliv", r.ServerUsPerDelivery))
				}
				return strings.Join(miss, ", ")
			}},
		{name: "4-many-channels", target: "2,000 pub/s: p50 ≤ 0.5 ms, p99 ≤ 3 ms, p99.9 ≤ 10 ms, srv µs/deliv ≤ 1.3× floor",
			args: a("-conns 10000 -channels 1000 -rate 2000 -duration 10s -pub-conc 16"),
			check: func(r *loadgen.Result, floorUs float64) string {
				var miss []string
				if r.DeliveryPct < 100 {
					miss = append(miss, fmt.Sprintf("%.3f%% delivered", r.DeliveryPct))
				}
				if floorUs > 0 && r.ServerUsPerDelivery > 1.3*floorUs {
					miss = append(miss, fmt.Sprintf("%.2f µs/deliv = %.2f× floor", r.ServerUsPerDelivery, r.ServerUsPerDelivery/floorUs))
				}
				for _, q := range []struct {
					k   string
					lim int64
				}{{"p50", 500}, {"p99", 3000}, {"p99.9", 10000}} {
					if r.Latency[q.k] > q.lim {
						miss = append(miss, fmt.Sprintf("%s %.2f ms", q.k, float64(r.Latency[q.k])/1000))
					}
				}
				return strings.Join(miss, ", ")
			},
			vsFloors: vsSamePattern},
		{name: "5-http-publish", target: "≥ 55,000 signed publishes/s, ≤ 12 µs srv CPU each (issue 14)",
			args: a("-http-only -rate 0 -duration 10s -pub-conc 32"),
			check: func(r *loadgen.Result, _ float64) string {
				var miss []string
				if r.PubPerSec < 55000 {
					miss = append(miss, fmt.Sprintf("%.0f pub/s", r.PubPerSec))
				}
				if r.ServerUsPerPublish > 12 {
					miss = append(miss, fmt.Sprintf("%.2f µs/publish", r.ServerUsPerPublish))
				}
				return strings.Join(miss, ", ")
			},
			vsFloors: func(r *loadgen.Result, f *sameRunFloors) string { return vsHTTPFloor(r, f, "5-http-publish") }},
		{name: "5-http-batch", target: "≥ 400,000 events/s via batch_events ×10 (issue 14)",
			args: a("-http-only -rate 0 -duration 10s -pub-conc 32 -batch 10"),
			check: func(r *loadgen.Result, _ float64) string {
				if r.PubPerSec < 400000 {
					return fmt.Sprintf("%.0f events/s", r.PubPerSec)
				}
				return ""
			},
			vsFloors: func(r *loadgen.Result, f *sameRunFloors) string { return vsHTTPFloor(r, f, "5-http-batch") }},
	}
}

func broadcastCheck(r *loadgen.Result, floorUs, p99ms float64) string {
	var miss []string
	if r.DeliveryPct < 100 {
		miss = append(miss, fmt.Sprintf("%.3f%% delivered", r.DeliveryPct))
	}
	if floorUs > 0 && r.ServerUsPerDelivery > 1.2*floorUs {
		miss = append(miss, fmt.Sprintf("%.2f µs/deliv = %.2f× floor", r.ServerUsPerDelivery, r.ServerUsPerDelivery/floorUs))
	}
	if float64(r.Latency["p99"]) > p99ms*1000 {
		miss = append(miss, fmt.Sprintf("p99 %.0f ms", float64(r.Latency["p99"])/1000))
	}
	return strings.Join(miss, ", ")
}

func a(s string) []string { return strings.Fields(s) }

func run() int {
	fs := flag.NewFlagSet("scenarios", flag.ExitOnError)
	mode := fs.String("mode", "smoke", "smoke (≈3 s per scenario, small sizes, fails unless 100 % delivered) or full (issue 6 sizes)")
	only := fs.String("only", "", "comma-separated scenario names (default: all)")
	outDir := fs.String("out", "", "directory for server logs, JSON and SVG per scenario (default: a new temp dir)")
	cooldown := fs.Duration("cooldown", -1, "pause between scenarios (default 0 in smoke, 5s in full)")
	skipFloor := fs.Bool("no-floor", false, "skip the floors: full mode's write-floor probe, and the same-run HTTP and paced write floors (tiny in smoke mode)")
	var opts runOpts
	fs.BoolVar(&opts.pprof, "pprof", false, "start servers with --pprof and save an 8 s CPU profile of each loadgen scenario (from its second second; delta scenarios: from their 8th) to -out")
	fs.StringVar(&opts.historyOpts, "history-opts", "", `extra members of the server's history section in the 7-history-pg* scenarios, e.g. '"writer_shards":4'`)
	pgSettings := fs.String("pg-settings", "", "extra PostgreSQL settings for the history scenarios, comma-separated name=value (e.g. jit=off)")
	repeat := fs.Int("repeat", 1, "run the selected scenarios this many times, in order (the history comparison pairs each pg run with the off run before it)")
	_ = fs.Parse(os.Args[1:])
	if *mode != "smoke" && *mode != "full" {
		fmt.Fprintln(os.Stderr, "scenarios: -mode must be smoke or full")
		return 2
	}
	bin := os.Getenv("SOCKUDO_BIN")
	if bin == "" {
		fmt.Fprintln(os.Stderr, "scenarios: set SOCKUDO_BIN to the server binary")
		return 2
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	if *cooldown < 0 {
		*cooldown = 0
		if *mode == "full" {
			*cooldown = 5 * time.Second
		}
	}
	if *outDir == "" {
		d, err := os.MkdirTemp("", "sockudo-bench-"+*mode+"-")
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
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	children.KillOnSignal("scenarios", "killing child processes")
	defer children.KillAll()

	start := time.Now()
	fmt.Printf("scenarios -mode %s, server %s, output %s\n", *mode, bin, *outDir)
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	// Source addresses: a fresh /24 per scenario and per run minute, so
	// TIME_WAIT left by the previous run never collides.
	rot := int(time.Now().Unix()/60)%200 + 20

	var floorUs float64
	var floorLine string
	if *mode == "full" && !*skipFloor && (len(want) == 0 || want["2-broadcast"] || want["2-broadcast-sampled"] || want["4-many-channels"]) {
		fj := filepath.Join(*outDir, "floor.json")
		out, err := runSelf(exe, []string{"floor", "-conns", "10000", "-json", fj, "-src-base", fmt.Sprintf("127.250.%d.2", rot)}, os.Stdout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "floor probe failed: %v\n%s", err, out)
		} else {
			var fr floor.Result
			if b, err := os.ReadFile(fj); err == nil && json.Unmarshal(b, &fr) == nil {
				floorUs = fr.UsPerWrite
				floorLine = fmt.Sprintf("floor: %.2f µs CPU per 150 B write to 10,000 loopback sockets (5 rounds/s), this box, this run", floorUs)
			}
		}
	} else if *mode == "smoke" {
		out, err := runSelf(exe, []string{"floor", "-conns", "200", "-rounds", "3", "-interval", "10ms",
			"-src-base", fmt.Sprintf("127.250.%d.2", rot)}, io.Discard)
		if err != nil {
			fmt.Fprintf(os.Stderr, "floor smoke failed: %v\n%s", err, out)
			return 1
		}
		floorLine = "floor smoke: " + strings.TrimSpace(out)
	}

	var selected []scenario
	for _, s := range scenarios(*mode) {
		if len(want) == 0 || want[s.name] {
			selected = append(selected, s)
		}
	}
	var same *sameRunFloors
	if !*skipFloor {
		var err error
		if same, err = measureSameRunFloors(exe, *outDir, selected, *mode == "smoke", rot); err != nil {
			fmt.Fprintf(os.Stderr, "same-run floors: %v\n", err)
			if *mode == "smoke" {
				return 1
			}
		}
	}
	var pg *pgserver.Server
	for _, s := range selected {
		if s.pg && pg == nil {
			var err error
			var settings []string
			if *pgSettings != "" {
				settings = strings.Split(*pgSettings, ",")
			}
			if pg, err = pgserver.Start(settings...); err != nil {
				fmt.Fprintf(os.Stderr, "PostgreSQL for the history scenarios: %v\n", err)
				break
			}
			defer pg.Stop()
			fmt.Printf("PostgreSQL for the history scenarios: port %d, pid %d, %s\n", pg.Port, pg.PID(), pg.Dir)
		}
	}
	var rows []row
	failed := false
	seq := 0
	for rep := 1; rep <= max(*repeat, 1); rep++ {
		for k, s := range selected {
			if seq > 0 && *cooldown > 0 {
				time.Sleep(*cooldown)
			}
			seq++
			name := s.name
			if *repeat > 1 {
				name = fmt.Sprintf("%s #%d", s.name, rep)
			}
			fmt.Printf("\n### %s\n", name)
			// Source addresses: a fresh /24 per scenario and repetition.
			src := fmt.Sprintf("127.%d.%d.2", (k+1+(rep-1)*len(selected))%250+1, rot)
			rw := runOne(exe, bin, *outDir, s, name, src, *mode == "smoke", pg, seq, opts)
			if rw.err != "" {
				failed = true
			}
			if rw.r != nil && s.check != nil {
				rw.miss = s.check(rw.r, floorUs)
			}
			rows = append(rows, rw)
		}
	}

	fmt.Printf("\n=== sockudo bench, mode %s, %s, %d CPUs, %.0f s ===\n", *mode, time.Now().UTC().Format(time.RFC3339), numCPU(), time.Since(start).Seconds())
	if floorLine != "" {
		fmt.Println(floorLine)
	}
	if same != nil {
		for _, l := range same.lines {
			fmt.Println(l)
		}
	}
	v1Rows := 0
	for _, rw := range rows {
		if rw.rr == nil && rw.dr == nil && !rw.s.history {
			v1Rows++
		}
	}
	if v1Rows > 0 {
		fmt.Printf("%-22s %6s %8s %8s %9s %9s %9s %8s %8s %8s %8s %9s %9s  %s\n",
			"scenario", "conns", "conn/s", "KiB/conn", "pub/s", "deliv%", "deliv/s", "p50ms", "p99ms", "p99.9ms", "max ms", "srv µs/d", "ldr µs/d", "verdict")
	}
	for _, rw := range rows {
		r := rw.r
		if rw.rr != nil || rw.dr != nil || (rw.s.history && rw.err == "") {
			continue // printed below
		}
		if r == nil {
			fmt.Printf("%-22s %s\n", rw.name, rw.err)
			continue
		}
		lat := func(k string) string {
			if r.Timed == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f", float64(r.Latency[k])/1000)
		}
		deliv, dps, srv := "-", "-", "-"
		if r.Expected > 0 {
			deliv = fmt.Sprintf("%.3f", r.DeliveryPct)
			dps = fmt.Sprintf("%.0f", r.DeliveriesPS)
		}
		if r.Received > 0 {
			srv = fmt.Sprintf("%.2f", r.ServerUsPerDelivery)
		} else if r.PubAccepted > 0 {
			srv = fmt.Sprintf("%.2f/pub", r.ServerUsPerPublish)
		}
		ldr := "-"
		if r.Received > 0 {
			ldr = fmt.Sprintf("%.2f", r.LoaderUsPerDelivery)
		}
		verdict := "ok"
		if rw.err != "" {
			verdict = "FAIL: " + rw.err
		}
		if *mode == "full" && rw.s.check != nil {
			if rw.miss == "" {
				verdict += "; target met"
			} else {
				verdict += "; target missed: " + rw.miss
			}
			if rw.s.vsFloors != nil && same != nil {
				if v := rw.s.vsFloors(r, same); v != "" {
					verdict += "; " + v
				}
			}
		}
		fmt.Printf("%-22s %6d %8.0f %8.2f %9.0f %9s %9s %8s %8s %8s %8s %9s %9s  %s\n",
			rw.name, r.ConnOK, r.ConnectPerSec, r.KiBPerConn, r.PubPerSec, deliv, dps,
			lat("p50"), lat("p99"), lat("p99.9"), lat("max"), srv, ldr, verdict)
	}
	printV2Rows(rows)
	printDeltaRows(rows, *mode == "full")
	if *mode == "full" {
		fmt.Println("\ntargets (issue 6; 6-*, 7-*: issue 12; 8-*: issue 13):")
		seen := map[string]bool{}
		for _, rw := range rows {
			if rw.s.target != "" && !seen[rw.s.name] {
				seen[rw.s.name] = true
				fmt.Printf("  %-22s %s\n", rw.s.name, rw.s.target)
			}
		}
	}
	fmt.Printf("\nJSON, SVG and server logs: %s\n", *outDir)
	if failed {
		fmt.Println("RESULT: FAIL")
		return 1
	}
	fmt.Println("RESULT: PASS")
	return 0
}

// runOpts are the flags that change how a scenario's server runs.
type runOpts struct {
	pprof       bool   // --pprof and a CPU profile per loadgen scenario
	historyOpts string // extra members of the history section (pg scenarios)
}

// profileServer saves an 8 s CPU profile of the server, taken after
// delay (past the connect phase of the scenario).
func profileServer(metricsPort int, path string, delay time.Duration) {
	time.Sleep(delay)
	cl := &http.Client{Timeout: 20 * time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=8", metricsPort))
	if err != nil {
		fmt.Fprintf(os.Stderr, "pprof: %v\n", err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		fmt.Fprintf(os.Stderr, "pprof: %v %s\n", err, resp.Status)
		return
	}
	_ = os.WriteFile(path, b, 0o644)
}

func numCPU() int {
	n, _ := strconv.Atoi(strings.TrimSpace(mustRead("/sys/devices/system/cpu/online")))
	if n == 0 {
		return 2
	}
	return n
}

func mustRead(p string) string { b, _ := os.ReadFile(p); return string(b) }

// runSub runs scenario s's subcommand (s.sub: resume, delta) against a
// started server and reads the result it wrote with -json.
func runSub[R any](exe, dir string, s scenario, file string, port, pid int, srcBase string, quiet bool) (*R, error) {
	jsonPath := filepath.Join(dir, file+".json")
	args := append([]string{s.sub,
		"-ws", fmt.Sprintf("ws://127.0.0.1:%d", port), "-api", fmt.Sprintf("http://127.0.0.1:%d", port),
		"-app-id", "bench", "-key", "bench-key", "-secret", "bench-secret",
		"-server-pid", strconv.Itoa(pid), "-scenario", s.name, "-src-base", srcBase, "-json", jsonPath}, s.args...)
	if quiet {
		args = append(args, "-quiet")
	}
	out, rerr := runSelf(exe, args, os.Stdout)
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %v, no result: %v\n%s", s.sub, rerr, err, tail(out))
	}
	var r R
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// runSelf runs exe with args (a subcommand), teeing stdout to w.
func runSelf(exe string, args []string, w io.Writer) (string, error) {
	cmd := exec.Command(exe, args...)
	var buf strings.Builder
	cmd.Stdout = io.MultiWriter(&buf, w)
	cmd.Stderr = io.MultiWriter(&buf, os.Stderr)
	if err := children.Start(cmd); err != nil {
		return "", err
	}
	err := cmd.Wait()
	children.Done(cmd)
	return buf.String(), err
}

// runOne runs one scenario and judges it.
func runOne(exe, bin, dir string, s scenario, name, srcBase string, quiet bool, pg *pgserver.Server, seq int, opts runOpts) row {
	rw := row{s: s, name: name}
	file := strings.ReplaceAll(strings.ReplaceAll(name, " ", ""), "#", "-")
	extra, err := serverConfigExtra(s, pg, seq, opts.historyOpts)
	if err != nil {
		rw.err = err.Error()
		return rw
	}
	var pg0 int64
	if s.pg {
		_ = pg.ResetStatements()
		pg0 = pg.CPU()
	}
	var res results
	res, err = runScenario(exe, bin, dir, s, file, extra, srcBase, quiet, opts.pprof)
	rw.r, rw.rr, rw.dr = res.r, res.rr, res.dr
	if s.pg {
		rw.pgCPUUs = pg.CPU() - pg0
		if top, err := pg.TopStatements(); err == nil {
			_ = os.WriteFile(filepath.Join(dir, file+".pg_statements.txt"), []byte(top), 0o644)
		}
	}
	switch {
	case err != nil:
		rw.err = err.Error()
	case rw.r != nil && !rw.r.OK, rw.rr != nil && !rw.rr.OK, rw.dr != nil && !rw.dr.OK:
		rw.err = "incomplete (see above)"
	}
	return rw
}

// results is what a scenario's subcommand reported: one of the three.
type results struct {
	r  *loadgen.Result
	rr *resume.Result
	dr *tickerdelta.Result
}

// runScenario starts a fresh server (its config plus extra), runs loadgen
// or the scenario's subcommand against it and stops it. file names the
// run's files in dir.
func runScenario(exe, bin, dir string, s scenario, file, extra, srcBase string, quiet, pprof bool) (results, error) {
	port, err := ports.Free(nil)
	if err != nil {
		return results{}, err
	}
	mport, err := ports.Free(nil)
	if err != nil {
		return results{}, err
	}
	cfgPath := filepath.Join(dir, file+".config.json")
	cfg := fmt.Sprintf(`{"port":%d,"metrics":{"port":%d},"app_manager":{"driver":"memory","array":{"apps":[{"id":"bench","key":"bench-key","secret":"bench-secret","enabled":true,"max_connections":0}]}},"rate_limiter":{"enabled":false}%s}`, port, mport, extra)
	if err := os.WriteFile(cfgPath, []byte(cfg+"\n"), 0o644); err != nil {
		return results{}, err
	}
	logf, err := os.Create(filepath.Join(dir, file+".server.log"))
	if err != nil {
		return results{}, err
	}
	defer logf.Close()
	srvArgs := []string{"--config", cfgPath}
	if pprof {
		srvArgs = append(srvArgs, "--pprof")
	}
	srv := exec.Command(bin, srvArgs...)
	srv.Stdout, srv.Stderr = logf, logf
	if err := children.Start(srv); err != nil {
		return results{}, fmt.Errorf("start server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		children.Done(srv)
		_ = srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	gone := func() error {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("server exited at start: %v", err)
		default:
			return nil
		}
	}
	if err := ports.WaitHTTP(&http.Client{Timeout: time.Second}, "server", base+"/up", 15*time.Second, gone); err != nil {
		return results{}, err
	}
	if s.sub != "" {
		var res results
		switch s.sub {
		case "resume":
			res.rr, err = runSub[resume.Result](exe, dir, s, file, port, srv.Process.Pid, srcBase, quiet)
		case "delta":
			if pprof {
				// after the 10,000 connections, inside the publish window
				go profileServer(mport, filepath.Join(dir, file+".cpu.pprof"), 8*time.Second)
			}
			res.dr, err = runSub[tickerdelta.Result](exe, dir, s, file, port, srv.Process.Pid, srcBase, quiet)
		default:
			return res, fmt.Errorf("unknown subcommand %q", s.sub)
		}
		select {
		case xerr := <-exited:
			exited <- xerr
			return res, fmt.Errorf("server exited during the run: %v (log %s)", xerr, logf.Name())
		default:
		}
		return res, err
	}
	jsonPath := filepath.Join(dir, file+".json")
	args := append([]string{"loadgen",
		"-ws", fmt.Sprintf("ws://127.0.0.1:%d", port), "-api", base,
		"-app-id", "bench", "-key", "bench-key", "-secret", "bench-secret",
		"-server-pid", strconv.Itoa(srv.Process.Pid), "-scenario", s.name, "-src-base", srcBase,
		"-json", jsonPath, "-svg", filepath.Join(dir, file+".svg")}, s.args...)
	if s.pg {
		args = append(args, "-metrics", fmt.Sprintf("http://127.0.0.1:%d/metrics", mport))
	}
	if quiet {
		args = append(args, "-quiet")
	}
	if pprof {
		go profileServer(mport, filepath.Join(dir, file+".cpu.pprof"), time.Second)
	}
	out, lerr := runSelf(exe, args, os.Stdout)
	select {
	case err := <-exited:
		exited <- err
		return results{}, fmt.Errorf("server exited during the run: %v (log %s)", err, logf.Name())
	default:
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return results{}, fmt.Errorf("loadgen: %v, no result: %v\n%s", lerr, err, tail(out))
	}
	var r loadgen.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return results{}, err
	}
	return results{r: &r}, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}
