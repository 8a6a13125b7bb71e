package redisbus

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/bus/bustest"
)

// redisServer finds redis-server: tests that need it skip without it
// outside CI and fail under CI (CI=true).
func redisServer(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"redis-server", "/usr/bin/redis-server", "/usr/sbin/redis-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("redis-server not found: install the Debian package redis-server")
	}
	t.Skip("redis-server not found: install the Debian package redis-server to run this test")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis runs redis-server on port until stop is called.
func startRedis(t *testing.T, bin string, port int) (stop func()) {
	t.Helper()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() { _ = cmd.Process.Kill(); <-done }
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return stop
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConformance(t *testing.T) {
	bin := redisServer(t)
	port := freePort(t)
	stop := startRedis(t, bin, port)
	t.Cleanup(func() { stop() })
	url := "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
	bustest.Run(t, bustest.Env{
		New: func(t *testing.T) engine.Bus {
			b, err := New(Options{URL: url, Prefix: "test:"})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Outage:  func(t *testing.T) { stop() },
		Restore: func(t *testing.T) { stop = startRedis(t, bin, port) },
	})
}

func TestFraming(t *testing.T) {
	b := &Bus{self: "me"}
	if _, ok := b.unframe(string(b.frame([]byte("x")))); ok {
		t.Fatal("own message not dropped")
	}
	other := &Bus{self: "other"}
	if p, ok := b.unframe(string(other.frame([]byte("hello")))); !ok || string(p) != "hello" {
		t.Fatalf("unframe %q %v", p, ok)
	}
	if _, ok := b.unframe("\x09ab"); ok {
		t.Fatal("truncated frame accepted")
	}
}
