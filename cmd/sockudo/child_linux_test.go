package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// child is a server running in its own process.
type child struct {
	cmd    *exec.Cmd
	port   int
	mport  int // metrics
	stderr *syncBuffer
}

// startChild runs `sockudo --config FILE args...` in a child process with
// the extra environment env, waits until it answers /up and stops it
// (SIGTERM, then SIGKILL) when the test ends. The child is this test
// binary, or the server binary named by $SOCKUDO_BIN (to measure a build,
// e.g. an older one).
func startChild(t *testing.T, configJSON string, env []string, args ...string) *child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if bin := os.Getenv("SOCKUDO_BIN"); bin != "" {
		self = bin
	}
	port, mport := freePort(t), freePort(t)
	stderr := new(syncBuffer)
	cmd := exec.Command(self, append([]string{"--config", writeConfig(t, configJSON),
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--metrics-host", "127.0.0.1",
		"--metrics-port", strconv.Itoa(mport)}, args...)...)
	cmd.Env = append(append(os.Environ(), serveChildEnv+"=1"), env...)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, port: port, mport: mport, stderr: stderr}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", c.stderr.String())
		}
	})
	waitStatus(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/up", 200)
	return c
}

// rss reads the child's resident set size from /proc.
func (c *child) rss() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", c.cmd.Process.Pid)
}

// mustRSS is rss for the test goroutine.
func (c *child) mustRSS(t *testing.T) int64 {
	t.Helper()
	n, err := c.rss()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
