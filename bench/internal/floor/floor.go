// Package floor measures this machine's CPU cost of one small loopback
// write per socket: the floor a WebSocket fan-out server cannot beat
// without coalescing (issue 6, target 2). A sender writes one frame to each
// of N sockets per round (or to a few of them per round, paced like a
// small-channel publish); a separate sink process drains them with epoll.
// The package also holds the HTTP floor's responder (responder.go).
package floor

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/sockudo/sockudo-go/bench/internal/children"
	"github.com/sockudo/sockudo-go/bench/internal/loadgen"
)

// Result is the probe's output.
type Result struct {
	Sockets     int     `json:"sockets"`
	Rounds      int     `json:"rounds"`
	FrameBytes  int     `json:"frame_bytes"`
	Workers     int     `json:"workers"`
	PerRound    int     `json:"per_round"` // sockets written per round
	IntervalUs  int64   `json:"interval_us"`
	SinkMode    string  `json:"sink_mode"`
	Writes      int64   `json:"writes"`
	WriteErrors int64   `json:"write_errors"`
	WallSecs    float64 `json:"wall_secs"`
	CPUUs       int64   `json:"cpu_us"`
	UserUs      int64   `json:"user_us"`
	SysUs       int64   `json:"sys_us"`
	UsPerWrite  float64 `json:"cpu_us_per_write"`
	// UsInWrite is the writer thread's CPU inside the write calls per
	// write (one writer only): the paced floor without the writer's own
	// wake-ups between rounds, which a server pays in its request path.
	UsInWrite      float64 `json:"cpu_us_in_write"`
	WritesPerSec   float64 `json:"writes_per_sec_while_writing"`
	SinkCPUUs      int64   `json:"sink_cpu_us"`
	SinkUsPerWrite float64 `json:"sink_cpu_us_per_frame"`
}

// Main runs the probe; selfArgs re-enters this code in the sink process.
func Main(args, selfArgs []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("conns", 10000, "sockets")
	rounds := fs.Int("rounds", 25, "rounds; with -per-round 0 that is writes per socket")
	interval := fs.Duration("interval", 200*time.Millisecond, "pause between rounds (200ms = the 5 publishes/s broadcast scenario; 0 = back to back)")
	size := fs.Int("size", 150, "frame size in bytes (a small Pusher event frame)")
	workers := fs.Int("workers", 1, "writer goroutines (sockets split among them)")
	src := fs.String("src-base", "127.0.0.2", "first source address; sockets spread over 4")
	perRound := fs.Int("per-round", 0, "sockets written per round, rotating over -conns and spread like a channel's subscribers (0 = all; paced on an absolute schedule)")
	sinkMode := fs.String("sink-mode", "busy", "busy: one thread drains every socket; loader: the loader's timed readers (GOMAXPROCS goroutines, an epoll set each, epoll_wait with a 100 ms timeout)")
	jsonOut := fs.String("json", "", "write the result as JSON here")
	sink := fs.Bool("sink", false, "internal: run as the draining sink")
	responder := fs.Bool("http-responder", false, "internal: run as the HTTP floor's responder (prints its address, serves until stdin closes)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *sinkMode != "busy" && *sinkMode != "loader" {
		fmt.Fprintln(stderr, "floor: -sink-mode must be busy or loader")
		return 2
	}
	if *perRound < 0 || *perRound > *n {
		fmt.Fprintln(stderr, "floor: -per-round must be 0..-conns")
		return 2
	}
	raiseNoFile()
	if *responder {
		return responderMain()
	}
	if *sink {
		return sinkMain(*sinkMode)
	}
	p := pattern{rounds: *rounds, perRound: *perRound, interval: *interval, sinkMode: *sinkMode}
	res, err := run(*n, p, *size, *workers, *src, selfArgs)
	if err != nil {
		fmt.Fprintln(stderr, "floor:", err)
		return 1
	}
	fmt.Fprintf(stdout, "floor: %d sockets, %d rounds of %d × %d B frames every %v, %s sink, %d writer(s): %d writes, %.2f µs CPU/write (user %.2f, sys %.2f; %.2f inside write calls), %.0f writes/s while writing; sink %.2f µs/frame\n",
		res.Sockets, res.Rounds, res.PerRound, res.FrameBytes, *interval, res.SinkMode, res.Workers, res.Writes, res.UsPerWrite,
		float64(res.UserUs)/float64(max(res.Writes, 1)), float64(res.SysUs)/float64(max(res.Writes, 1)), res.UsInWrite, res.WritesPerSec, res.SinkUsPerWrite)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "floor:", err)
			return 1
		}
	}
	return 0
}

// pattern is when and where the probe writes.
type pattern struct {
	rounds   int
	perRound int // 0: every socket each round
	interval time.Duration
	sinkMode string
}

// round appends to dst the sockets written in round r: all of them, or
// perRound sockets n/perRound apart (the subscribers of one channel when
// connection i subscribes to channel i % (n/perRound)), the channel rotating.
func (p pattern) round(dst, fds []int, r int) []int {
	if p.perRound == 0 || p.perRound >= len(fds) {
		return append(dst, fds...)
	}
	stride := len(fds) / p.perRound
	for j := 0; j < p.perRound; j++ {
		dst = append(dst, fds[r%stride+j*stride])
	}
	return dst
}

// writeAll writes frame to every workers-th socket of set from first and
// returns the failed writes.
func writeAll(set []int, frame []byte, first, workers int) int64 {
	var e int64
	for i := first; i < len(set); i += workers {
		if _, err := syscall.Write(set[i], frame); err != nil {
			e++
		}
	}
	return e
}

// wait sleeps until round r+1 is due. Paced rounds keep an absolute
// schedule from t0, so a late round is caught up at once, as the
// publisher's pacer does; whole-set rounds keep the issue-6 probe's
// interval-minus-work sleep.
func (p pattern) wait(r int, t0, start time.Time) {
	if p.interval <= 0 || r >= p.rounds-1 {
		return
	}
	if p.perRound == 0 {
		time.Sleep(p.interval - time.Since(start)%p.interval)
		return
	}
	if d := time.Until(t0.Add(time.Duration(r+1) * p.interval)); d > 0 {
		time.Sleep(d)
	}
}

func run(n int, p pattern, size, workers int, srcBase string, selfArgs []string) (*Result, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append(append([]string{}, selfArgs...), "-sink", "-sink-mode", p.sinkMode)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer children.Stop(cmd, stdin, 5*time.Second) // closing stdin tells the sink to exit
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	addr := strings.TrimSpace(line)
	base := net.ParseIP(srcBase).To4()
	if base == nil {
		return nil, fmt.Errorf("bad -src-base")
	}
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var dialErr error
	var next int
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n || dialErr != nil {
					return
				}
				ip := net.IPv4(base[0], base[1], base[2], base[3]+byte(i%4))
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 10 * time.Second}
				c, err := d.Dial("tcp", addr)
				if err == nil {
					var fd int
					sc, _ := c.(*net.TCPConn).SyscallConn()
					var derr error
					_ = sc.Control(func(f uintptr) { fd, derr = syscall.Dup(int(f)) })
					c.Close()
					err = derr
					if err == nil {
						syscall.CloseOnExec(fd)
						mu.Lock()
						fds = append(fds, fd)
						mu.Unlock()
					}
				}
				if err != nil {
					mu.Lock()
					dialErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if dialErr != nil {
		return nil, dialErr
	}
	// Wait until the sink has accepted every socket.
	if _, err := fmt.Fprintf(stdin, "%d\n", n); err != nil {
		return nil, err
	}
	if _, err := br.ReadString('\n'); err != nil {
		return nil, fmt.Errorf("sink accept: %w", err)
	}
	frame := make([]byte, size)
	frame[0] = 0x81
	if size-2 <= 125 {
		frame[1] = byte(size - 2)
	} else {
		frame[1] = 126
		frame[2], frame[3] = byte((size-4)>>8), byte(size-4)
	}
	for i := 4; i < size; i++ {
		frame[i] = 'x'
	}
	perRound := p.perRound
	if perRound == 0 {
		perRound = len(fds)
	}
	res := &Result{Sockets: n, Rounds: p.rounds, FrameBytes: size, Workers: workers, PerRound: perRound,
		IntervalUs: p.interval.Microseconds(), SinkMode: p.sinkMode}
	sink0 := loadgen.ProcCPU(cmd.Process.Pid)
	u0, s0 := rusage()
	var writing time.Duration
	var errs int64
	var emu sync.Mutex
	var inWrites int64 // ns of this thread's CPU inside the write calls (one writer)
	if workers == 1 {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	t0 := time.Now()
	set := make([]int, 0, perRound)
	for r := 0; r < p.rounds; r++ {
		start := time.Now()
		set = p.round(set[:0], fds, r)
		if workers == 1 {
			// Inline, no goroutine hand-off per round; the thread's CPU
			// clock around the writes leaves out the pacing wake-ups.
			c0 := threadCPU()
			errs += writeAll(set, frame, 0, 1)
			inWrites += threadCPU() - c0
		} else {
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e := writeAll(set, frame, w, workers)
					emu.Lock()
					errs += e
					emu.Unlock()
				}()
			}
			wg.Wait()
		}
		writing += time.Since(start)
		p.wait(r, t0, start)
	}
	res.WallSecs = time.Since(t0).Seconds()
	u1, s1 := rusage()
	time.Sleep(200 * time.Millisecond) // let the sink finish draining
	res.SinkCPUUs = loadgen.ProcCPU(cmd.Process.Pid) - sink0
	res.Writes = int64(p.rounds) * int64(perRound)
	res.WriteErrors = errs
	res.UserUs, res.SysUs = u1-u0, s1-s0
	res.CPUUs = res.UserUs + res.SysUs
	res.UsPerWrite = float64(res.CPUUs) / float64(res.Writes)
	res.UsInWrite = float64(inWrites) / 1000 / float64(res.Writes)
	res.SinkUsPerWrite = float64(res.SinkCPUUs) / float64(res.Writes)
	res.WritesPerSec = float64(res.Writes) / writing.Seconds()
	return res, nil
}

// threadCPU is the calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func rusage() (user, sys int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() / 1000, ru.Stime.Nano() / 1000
}

// sinkMain accepts sockets, reports when the expected count is in, and
// drains every socket until stdin closes: through one epoll loop on a
// locked thread (busy), or the way the loader's timed readers do (loader:
// GOMAXPROCS goroutines, sockets dealt round-robin to their epoll sets).
func sinkMain(mode string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		return 1
	}
	readers := 1
	if mode == "loader" {
		readers = runtime.GOMAXPROCS(0)
	}
	epfds := make([]int, readers)
	for i := range epfds {
		if epfds[i], err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			return 1
		}
	}
	fmt.Println(ln.Addr().String())
	var mu sync.Mutex
	count, want := 0, -1
	report := func() { // mu held
		if want >= 0 && count >= want {
			fmt.Println("accepted")
			want = -1
		}
	}
	go func() {
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		v, _ := strconv.Atoi(strings.TrimSpace(line))
		mu.Lock()
		want = v
		report()
		mu.Unlock()
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sc, _ := c.(*net.TCPConn).SyscallConn()
			var fd int
			_ = sc.Control(func(f uintptr) { fd, _ = syscall.Dup(int(f)) })
			c.Close()
			_ = syscall.SetNonblock(fd, true)
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
			mu.Lock()
			_ = syscall.EpollCtl(epfds[count%readers], syscall.EPOLL_CTL_ADD, fd, &ev)
			count++
			report()
			mu.Unlock()
		}
	}()
	if mode != "loader" {
		runtime.LockOSThread()
		return drain(epfds[0], -1)
	}
	failed := make(chan int)
	for _, epfd := range epfds {
		go func() { failed <- drain(epfd, 100) }()
	}
	return <-failed
}

// drain reads once from every ready socket of epfd, forever; it returns
// only when epoll_wait fails.
func drain(epfd, timeoutMs int) int {
	events := make([]syscall.EpollEvent, 1024)
	buf := make([]byte, 64<<10)
	for {
		k, err := syscall.EpollWait(epfd, events, timeoutMs)
		if err != nil && err != syscall.EINTR {
			fmt.Fprintln(os.Stderr, "sink: epoll_wait:", err)
			return 1
		}
		for i := 0; i < k; i++ {
			_, _ = syscall.Read(int(events[i].Fd), buf)
		}
	}
}

func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}
