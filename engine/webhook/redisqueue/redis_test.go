package redisqueue

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs a private redis-server (no persistence) for the test,
// on a unix socket in t.TempDir() or on a free 127.0.0.1 port, and kills
// it at cleanup. It returns the URL. Without redis-server the test skips,
// or fails when CI=true.
func startRedis(t *testing.T, unix bool) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/redis-server"); serr != nil {
			msg := "redis-server not found: install the Debian package redis-server (apt-get install redis-server)"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		bin = "/usr/bin/redis-server"
	}
	dir := t.TempDir()
	args := []string{"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning"}
	var url string
	if unix {
		sock := filepath.Join(dir, "redis.sock")
		args = append(args, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700")
		url = "unix://" + sock
	} else {
		port := freePort(t)
		args = append(args, "--port", strconv.Itoa(port), "--bind", "127.0.0.1")
		url = "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
	}
	logPath := filepath.Join(dir, "redis.log")
	args = append(args, "--logfile", logPath)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("redis-server log:\n%s", b)
		}
	})
	waitRedis(t, url)
	return url
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitRedis(t *testing.T, url string) {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server at %s not ready: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
