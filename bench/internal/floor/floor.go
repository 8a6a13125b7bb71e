// Package floor measures this machine's CPU cost of one small loopback
// write per socket: the floor a WebSocket fan-out server cannot beat
// without coalescing (issue 6, target 2). A sender writes one frame to each
// of N sockets per round; a separate sink process drains them with epoll.
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
)

// Result is the probe's output.
type Result struct {
	Sockets        int     `json:"sockets"`
	Rounds         int     `json:"rounds"`
	FrameBytes     int     `json:"frame_bytes"`
	Workers        int     `json:"workers"`
	Writes         int64   `json:"writes"`
	WriteErrors    int64   `json:"write_errors"`
	WallSecs       float64 `json:"wall_secs"`
	CPUUs          int64   `json:"cpu_us"`
	UserUs         int64   `json:"user_us"`
	SysUs          int64   `json:"sys_us"`
	UsPerWrite     float64 `json:"cpu_us_per_write"`
	WritesPerSec   float64 `json:"writes_per_sec_while_writing"`
	SinkCPUUs      int64   `json:"sink_cpu_us"`
	SinkUsPerWrite float64 `json:"sink_cpu_us_per_frame"`
}

// Main runs the probe; selfArgs re-enters this code in the sink process.
func Main(args, selfArgs []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("conns", 10000, "sockets")
	rounds := fs.Int("rounds", 25, "writes per socket (one per round)")
	interval := fs.Duration("interval", 200*time.Millisecond, "pause between rounds (200ms = the 5 publishes/s broadcast scenario; 0 = back to back)")
	size := fs.Int("size", 150, "frame size in bytes (a small Pusher event frame)")
	workers := fs.Int("workers", 1, "writer goroutines (sockets split among them)")
	src := fs.String("src-base", "127.0.0.2", "first source address; sockets spread over 4")
	jsonOut := fs.String("json", "", "write the result as JSON here")
	sink := fs.Bool("sink", false, "internal: run as the draining sink")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	raiseNoFile()
	if *sink {
		return sinkMain()
	}
	res, err := run(*n, *rounds, *interval, *size, *workers, *src, selfArgs)
	if err != nil {
		fmt.Fprintln(stderr, "floor:", err)
		return 1
	}
	fmt.Fprintf(stdout, "floor: %d sockets × %d rounds of %d B frames, %d writer(s): %d writes, %.2f µs CPU/write (user %.2f, sys %.2f), %.0f writes/s while writing; sink %.2f µs/frame\n",
		res.Sockets, res.Rounds, res.FrameBytes, res.Workers, res.Writes, res.UsPerWrite,
		float64(res.UserUs)/float64(max(res.Writes, 1)), float64(res.SysUs)/float64(max(res.Writes, 1)), res.WritesPerSec, res.SinkUsPerWrite)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "floor:", err)
			return 1
		}
	}
	return 0
}

func run(n, rounds int, interval time.Duration, size, workers int, srcBase string, selfArgs []string) (*Result, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append(append([]string{}, selfArgs...), "-sink")...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
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
	res := &Result{Sockets: n, Rounds: rounds, FrameBytes: size, Workers: workers}
	sink0 := sinkCPU(cmd.Process.Pid)
	u0, s0 := rusage()
	var writing time.Duration
	var errs int64
	var emu sync.Mutex
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var e int64
				for i := w; i < len(fds); i += workers {
					if _, err := syscall.Write(fds[i], frame); err != nil {
						e++
					}
				}
				emu.Lock()
				errs += e
				emu.Unlock()
			}()
		}
		wg.Wait()
		writing += time.Since(start)
		if interval > 0 && r < rounds-1 {
			time.Sleep(interval - time.Since(start)%interval)
		}
	}
	res.WallSecs = time.Since(t0).Seconds()
	u1, s1 := rusage()
	time.Sleep(200 * time.Millisecond) // let the sink finish draining
	res.SinkCPUUs = sinkCPU(cmd.Process.Pid) - sink0
	res.Writes = int64(rounds) * int64(len(fds))
	res.WriteErrors = errs
	res.UserUs, res.SysUs = u1-u0, s1-s0
	res.CPUUs = res.UserUs + res.SysUs
	res.UsPerWrite = float64(res.CPUUs) / float64(res.Writes)
	res.SinkUsPerWrite = float64(res.SinkCPUUs) / float64(res.Writes)
	res.WritesPerSec = float64(res.Writes) / writing.Seconds()
	return res, nil
}

func rusage() (user, sys int64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() / 1000, ru.Stime.Nano() / 1000
}

func sinkCPU(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return (u + st) * 10_000
}

// sinkMain accepts sockets, reports when the expected count is in, and
// drains every socket through one epoll loop until stdin closes.
func sinkMain() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		return 1
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return 1
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
			_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
			mu.Lock()
			count++
			report()
			mu.Unlock()
		}
	}()
	runtime.LockOSThread()
	events := make([]syscall.EpollEvent, 1024)
	buf := make([]byte, 64<<10)
	for {
		k, err := syscall.EpollWait(epfd, events, -1)
		if err != nil && err != syscall.EINTR {
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
