package redislimit

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/httpapi"
)

func TestSharedWindowAgainstRedis(t *testing.T) {
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
	url := "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
	a, _ := New(Options{URL: url})
	b, _ := New(Options{URL: url}) // a second node
	defer a.Close()
	defer b.Close()
	rule := httpapi.Rule{Max: 3, Window: time.Minute}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := a.Take("warmup", 1, rule); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redis never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []bool{true, true, true, false}
	for i, lim := range []*Limiter{a, b, a, b} { // both nodes draw on one budget
		d, err := lim.Take("api:1.2.3.4", 1, rule)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != want[i] || d.Limit != 3 || d.Reset <= 0 || d.Reset > time.Minute {
			t.Fatalf("take %d: %+v", i, d)
		}
		if !d.Allowed && d.Remaining != 0 {
			t.Fatalf("refusal with Remaining %d", d.Remaining)
		}
	}
	if d, _ := a.Take("api:other", 4, rule); d.Allowed {
		t.Fatal("n above the maximum allowed")
	}
}
