// Package children tracks the processes a bench command starts (servers,
// loaders), so that every one is killed when the command ends, fails or
// is interrupted; each also carries PR_SET_PDEATHSIG=SIGKILL, for when the
// command itself is killed.
package children

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

var (
	mu    sync.Mutex
	procs = map[int]*exec.Cmd{}
)

// Start starts cmd, killed with its parent, and tracks it until Done.
// Attributes the caller set (a Credential, for a database that refuses
// to run as root) are kept.
func Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return err
	}
	mu.Lock()
	procs[cmd.Process.Pid] = cmd
	mu.Unlock()
	return nil
}

// Done stops tracking cmd: it has ended or its caller stops it.
func Done(cmd *exec.Cmd) {
	mu.Lock()
	delete(procs, cmd.Process.Pid)
	mu.Unlock()
}

// Stop ends a child that exits when its stdin closes: it closes in, waits
// up to grace for the exit and kills the child after that.
func Stop(cmd *exec.Cmd, in io.Closer, grace time.Duration) {
	_ = in.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// KillAll sends SIGKILL to every tracked process.
func KillAll() {
	mu.Lock()
	defer mu.Unlock()
	for pid, c := range procs {
		_ = c.Process.Signal(syscall.SIGKILL)
		delete(procs, pid)
	}
}

// KillOnSignal kills every tracked process and exits with 130 on SIGINT,
// SIGTERM or SIGHUP, saying so on stderr as "<command>: <signal>, <what>".
func KillOnSignal(command, what string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "%s: %v, %s\n", command, s, what)
		KillAll()
		os.Exit(130)
	}()
}
