// Package redistest runs a private redis-server for a test: the Redis
// queue, bus, cache and rate-limiter tests all need a real one. Without the
// binary a test skips with a message naming the Debian package, or fails
// when CI=true (CI installs it).
package redistest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/internal/testproc"
)

// Server is one redis-server without persistence, killed at cleanup.
type Server struct {
	// URL is redis://127.0.0.1:port/0 or unix:///path.
	URL string

	t       testing.TB
	bin     string
	args    []string
	network string
	addr    string
	log     string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start runs redis-server on a free 127.0.0.1 port, or on a unix socket in
// t.TempDir() when unix is true.
func Start(t testing.TB, unix bool) *Server {
	t.Helper()
	s := &Server{t: t, bin: binary(t)}
	dir := t.TempDir()
	s.log = filepath.Join(dir, "redis.log")
	s.args = []string{"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning", "--logfile", s.log}
	if unix {
		sock := filepath.Join(dir, "redis.sock")
		s.args = append(s.args, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700")
		s.URL, s.network, s.addr = "unix://"+sock, "unix", sock
	} else {
		port := FreePort(t)
		s.args = append(s.args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1")
		s.addr = "127.0.0.1:" + strconv.Itoa(port)
		s.URL, s.network = "redis://"+s.addr+"/0", "tcp"
	}
	s.Restart()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("redis-server log:\n%s", b)
		}
	})
	return s
}

func binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server"
	}
	testproc.Missing(t, "redis-server not found: install the Debian package redis-server (apt-get install redis-server)")
	return ""
}

// Stop kills the server (an outage, or the end of the test).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again at the same address and waits until it
// answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	s.cmd = exec.Command(s.bin, s.args...)
	err := s.cmd.Start()
	s.mu.Unlock()
	if err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.ping() {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server at %s not ready", s.URL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) ping() bool {
	c, err := net.DialTimeout(s.network, s.addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}
