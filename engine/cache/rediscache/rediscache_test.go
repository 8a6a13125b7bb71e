package rediscache

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestSetGetAgainstRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found: install the Debian package redis-server")
		}
		t.Skip("redis-server not found: install the Debian package redis-server to run this test")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c, err := New(Options{URL: "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	deadline := time.Now().Add(5 * time.Second)
	for c.Set(ctx, "1", "cache-x", "tick", `{"p":1}`, time.Minute) != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis never accepted a write")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ev, data, ttl, ok, err := c.Get(ctx, "1", "cache-x")
	if err != nil || !ok || ev != "tick" || data != `{"p":1}` || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("got %q %q %v %v %v", ev, data, ttl, ok, err)
	}
	if _, _, _, ok, err := c.Get(ctx, "1", "cache-missing"); ok || err != nil {
		t.Fatalf("missing key: ok %v err %v", ok, err)
	}
}
