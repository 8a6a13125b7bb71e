// Package testproc is what the test harnesses that run a real database
// server (pgtest, mysqltest, redistest) have in common: finding the
// binary or skipping, a free port and a directory (Home), one server
// process that a test can stop (an outage) and start again on the same
// port and data, waiting until it answers, and the life of a server
// shared by a test binary (Shared) or owned by one test
// (RemoveAtCleanup). Each harness says how to start and probe its server.
package testproc

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Missing skips the test with msg, which names the Debian package to
// install, or fails it under CI (CI=true), which installs every package
// the tests need: there a missing server is a broken CI, not a skip.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// IsExec reports whether p is an executable file.
func IsExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call,
// below the kernel's ephemeral range (32768 and up by default). A port
// the kernel handed out for listen(":0") lies inside that range, so the
// outgoing connection of another process (or of the server itself, to its
// bus) could take it before the server binds it: "address already in use".
func FreePort() (int, error) {
	for tries := 0; tries < 200; tries++ {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			_ = l.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("testproc: no free port in 20000-31999")
}

// Tail is the end of a log, enough to explain a failure in a test's
// output without flooding it.
func Tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// Proc is one server process that can be stopped and started again.
type Proc struct {
	// Name names the server in errors ("postgres").
	Name string
	// Command builds the command that starts the server; its output
	// goes where the command says (a log file).
	Command func() *exec.Cmd
	// Ready probes the server once; Start polls it until it is nil.
	Ready func() error
	// ReadyWithin bounds the wait for Ready; 0 → 30 s.
	ReadyWithin time.Duration
	// StopSignal is what Stop sends; nil → SIGKILL, a crash as clients
	// see it. A server that needs a gentler signal to exit at once (and
	// is killed anyway after 10 s) names it.
	StopSignal os.Signal
	// Log is the server's log file, shown when it does not come up; a
	// command without its own Stdout and Stderr writes there.
	Log string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts the server unless it runs, and waits until Ready answers.
// The process carries a parent-death signal: a test binary that dies
// without cleanup takes its server along.
func (p *Proc) Start() error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return nil
	}
	cmd := p.Command()
	if p.Log != "" && cmd.Stdout == nil && cmd.Stderr == nil {
		f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			p.mu.Unlock()
			return fmt.Errorf("testproc: %s log: %w", p.Name, err)
		}
		defer f.Close() // the child has its own descriptor once started
		cmd.Stdout, cmd.Stderr = f, f
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	err := cmd.Start()
	if err == nil {
		p.cmd = cmd
	}
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("testproc: start %s: %w", p.Name, err)
	}
	within := p.ReadyWithin
	if within <= 0 {
		within = 30 * time.Second
	}
	deadline := time.Now().Add(within)
	for {
		err := p.Ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(p.Log)
			return fmt.Errorf("testproc: %s not ready within %v: %v\n%s", p.Name, within, err, Tail(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server at once and waits for it to exit.
func (p *Proc) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	sig := p.StopSignal
	if sig == nil {
		sig = syscall.SIGKILL
	}
	_ = p.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}
