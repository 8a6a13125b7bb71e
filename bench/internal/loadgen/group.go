package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/children"
)

// connectResult summarises the connect+subscribe phase.
type connectResult struct {
	OK      int64    `json:"ok"`
	Failed  int64    `json:"failed"`
	PerChan []int64  `json:"per_channel,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	Secs    float64  `json:"secs"`
}

// progressSnap is a live view of the subscribers.
type progressSnap struct {
	Done, OK, Failed, Received, CPUUs int64
	AlsoReceived                      int64 `json:",omitempty"`
}

// ConnectPhase is the connect+subscribe phase as a report gives it.
type ConnectPhase struct {
	ConnOK        int64    `json:"conn_ok"`
	ConnFailed    int64    `json:"conn_failed"`
	ConnectSecs   float64  `json:"connect_secs"`
	ConnectPerSec float64  `json:"connect_subscribe_per_sec"`
	ConnectErrors []string `json:"connect_errors,omitempty"`

	ConnectServerCPUPct float64 `json:"connect_server_cpu_pct"`
	ConnectLoaderCPUPct float64 `json:"connect_loader_cpu_pct"`
}

// record fills p from the phase's result and the CPU time (µs) the
// server side and the loader side spent in it.
func (p *ConnectPhase) record(cr connectResult, serverUs, loaderUs int64) {
	p.ConnOK, p.ConnFailed, p.ConnectSecs, p.ConnectErrors = cr.OK, cr.Failed, cr.Secs, cr.Errors
	if cr.Secs > 0 {
		p.ConnectPerSec = float64(cr.OK) / cr.Secs
		p.ConnectServerCPUPct = float64(serverUs) / 1e4 / cr.Secs
		p.ConnectLoaderCPUPct = float64(loaderUs) / 1e4 / cr.Secs
	}
}

// log prints the phase and each connect error; cpu formats the server
// and loader CPU percentages.
func (p *ConnectPhase) log(logf func(format string, a ...any), cpu string) {
	logf("connected %d (failed %d) in %.2fs = %.0f connect+subscribe/s ("+cpu+")",
		p.ConnOK, p.ConnFailed, p.ConnectSecs, p.ConnectPerSec, p.ConnectServerCPUPct, p.ConnectLoaderCPUPct)
	for _, e := range p.ConnectErrors {
		logf("  connect error: %s", e)
	}
}

// subscribers is either a local group or a set of child loader processes.
type subscribers interface {
	connect() connectResult
	progress() progressSnap
	finish() (groupFinal, gcStats)
	kill()
}

// connectProgress logs how far the connect+subscribe phase of subs has
// got (of conns), once a second, until the returned stop is called.
func connectProgress(subs subscribers, conns int, logf func(format string, a ...any)) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				p := subs.progress()
				logf("[%5.1fs] connect %d/%d ok %d failed %d", now.Sub(start).Seconds(), p.Done, conns, p.OK, p.Failed)
			}
		}
	}()
	return func() { close(done) }
}

// ---- local ----

type localSubs struct {
	g *localGroup
}

func (l *localSubs) connect() connectResult {
	l.g.connect(l.g.cfg.DialConc)
	r := connectResult{OK: l.g.ok.Load(), Failed: l.g.failed.Load(), Errors: l.g.errorList(), Secs: l.g.connSecs}
	r.PerChan = make([]int64, len(l.g.perChan))
	for i := range l.g.perChan {
		r.PerChan[i] = int64(l.g.perChan[i].Load())
	}
	return r
}

func (l *localSubs) progress() progressSnap {
	return progressSnap{Done: l.g.done.Load(), OK: l.g.ok.Load(), Failed: l.g.failed.Load(), Received: l.g.received(),
		AlsoReceived: l.g.alsoReceived()}
}

func (l *localSubs) finish() (groupFinal, gcStats) { return l.g.finish(), gcStats{} }
func (l *localSubs) kill()                         {}

// ---- child processes ----

// childMsg is one JSON line a child loader writes on stdout.
type childMsg struct {
	Type     string         `json:"type"` // progress | ready | final
	Progress progressSnap   `json:"progress"`
	Ready    *connectResult `json:"ready,omitempty"`
	Final    *groupFinal    `json:"final,omitempty"`
	GC       *gcStats       `json:"gc,omitempty"`
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	last  progressSnap
	ready chan connectResult
	final chan childMsg
	dead  chan struct{}
	err   string
}

type remoteSubs struct {
	kids []*child
}

// spawnChildren starts one child loader per slice of ≤ MaxPerProc
// connections: the same binary (selfArgs) with the same flags plus the
// hidden -child flags.
func spawnChildren(cfg *Config, selfArgs, args []string) (*remoteSubs, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	k := (cfg.Conns + cfg.MaxPerProc - 1) / cfg.MaxPerProc
	conc := max(1, (cfg.DialConc+k-1)/k)
	rs := &remoteSubs{}
	for i := 0; i < k; i++ {
		off := i * cfg.MaxPerProc
		size := min(cfg.MaxPerProc, cfg.Conns-off)
		a := append(append(append([]string{}, selfArgs...), args...),
			"-child", "-child-offset", strconv.Itoa(off), "-child-size", strconv.Itoa(size),
			"-dial-conc", strconv.Itoa(conc), "-json", "", "-svg", "")
		cmd := exec.Command(exe, a...)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			rs.kill()
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			rs.kill()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			rs.kill()
			return nil, err
		}
		c := &child{cmd: cmd, stdin: stdin, ready: make(chan connectResult, 1), final: make(chan childMsg, 1), dead: make(chan struct{})}
		rs.kids = append(rs.kids, c)
		go c.readLoop(stdout)
	}
	return rs, nil
}

func (c *child) readLoop(r io.Reader) {
	defer close(c.dead)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	for sc.Scan() {
		var m childMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			c.err = "child output: " + err.Error()
			continue
		}
		c.mu.Lock()
		c.last = m.Progress
		c.mu.Unlock()
		switch m.Type {
		case "ready":
			c.ready <- *m.Ready
		case "final":
			c.final <- m
		}
	}
}

func (rs *remoteSubs) connect() connectResult {
	var out connectResult
	for i, c := range rs.kids {
		select {
		case r := <-c.ready:
			out.OK += r.OK
			out.Failed += r.Failed
			out.Errors = append(out.Errors, r.Errors...)
			out.Secs = max(out.Secs, r.Secs)
			if out.PerChan == nil {
				out.PerChan = make([]int64, len(r.PerChan))
			}
			for j, v := range r.PerChan {
				out.PerChan[j] += v
			}
		case <-c.dead:
			select {
			case r := <-c.ready:
				c.ready <- r
				out.Errors = append(out.Errors, fmt.Sprintf("child %d exited after connect", i))
			default:
				out.Errors = append(out.Errors, fmt.Sprintf("child %d exited during connect %s", i, c.err))
			}
		}
	}
	return out
}

func (rs *remoteSubs) progress() progressSnap {
	var s progressSnap
	for _, c := range rs.kids {
		c.mu.Lock()
		p := c.last
		c.mu.Unlock()
		s.Done += p.Done
		s.OK += p.OK
		s.Failed += p.Failed
		s.Received += p.Received
		s.CPUUs += p.CPUUs
		s.AlsoReceived += p.AlsoReceived
	}
	return s
}

func (rs *remoteSubs) finish() (groupFinal, gcStats) {
	for _, c := range rs.kids {
		_, _ = io.WriteString(c.stdin, "stop\n")
	}
	f := groupFinal{CloseCodes: map[int]int{}}
	var gc gcStats
	for i, c := range rs.kids {
		var m childMsg
		select {
		case m = <-c.final:
		case <-c.dead:
			select {
			case m = <-c.final: // the reader saw the final line, then EOF
			default:
			}
		case <-time.After(30 * time.Second):
		}
		switch {
		case m.Type == "final":
			if m.Final != nil {
				f.Received += m.Final.Received
				f.Closed += m.Final.Closed
				for k, v := range m.Final.CloseCodes {
					f.CloseCodes[k] += v
				}
				f.Errors = append(f.Errors, m.Final.Errors...)
				if f.Hist == nil {
					f.Hist = m.Final.Hist
				} else if m.Final.Hist != nil {
					f.Hist.Merge(m.Final.Hist)
				}
				f.AlsoReceived += m.Final.AlsoReceived
				if f.AlsoHist == nil {
					f.AlsoHist = m.Final.AlsoHist
				} else if m.Final.AlsoHist != nil {
					f.AlsoHist.Merge(m.Final.AlsoHist)
				}
			}
			if m.GC != nil {
				gc.add(*m.GC)
			}
		default:
			f.Errors = append(f.Errors, fmt.Sprintf("child %d: no final report %s", i, c.err))
		}
	}
	rs.kill()
	return f, gc
}

func (rs *remoteSubs) kill() {
	for _, c := range rs.kids {
		children.Stop(c.cmd, c.stdin, 5*time.Second)
	}
	rs.kids = nil
}

// childMain runs a child loader: connect its slice, report, stream
// progress every 100 ms, and on "stop" (or stdin EOF) write the final
// report with its raw histogram.
func childMain(cfg *Config) int {
	raiseNoFile()
	g, err := newLocalGroup(cfg, cfg.ChildOffset, cfg.ChildSize)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen child:", err)
		return 1
	}
	gc0 := gcNow()
	out := json.NewEncoder(os.Stdout)
	var mu sync.Mutex
	write := func(m childMsg) {
		mu.Lock()
		defer mu.Unlock()
		m.Progress = progressSnap{Done: g.done.Load(), OK: g.ok.Load(), Failed: g.failed.Load(), Received: g.received(), CPUUs: SelfCPU(),
			AlsoReceived: g.alsoReceived()}
		_ = out.Encode(m)
	}
	stop := make(chan struct{})
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		close(stop)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	readyCh := make(chan connectResult, 1)
	go func() { ls := &localSubs{g: g}; readyCh <- ls.connect() }()
	for {
		select {
		case r := <-readyCh:
			write(childMsg{Type: "ready", Ready: &r})
		case <-tick.C:
			write(childMsg{Type: "progress"})
		case <-stop:
			f := g.finish()
			gs := gcSince(gc0)
			write(childMsg{Type: "final", Final: &f, GC: &gs})
			return 0
		}
	}
}
