package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeConfig(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startNode starts a node from configJSON as `sockudo --config FILE`
// would, logging to the returned buffer; the caller shuts it down.
func startNode(t testing.TB, configJSON string) (*node, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	cfg, o, err := loadConfig([]string{"--config", writeConfig(t, configJSON)}, env(nil), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := start(cfg, o, &stderr)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, stderr.String())
	}
	return n, &stderr
}

func TestPrecedenceFlagsOverEnvOverFile(t *testing.T) {
	file := writeConfig(t, `{"port": 7001, "host": "127.0.0.2", "shards": 3,
		"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s"}]}}}`)
	var stderr bytes.Buffer
	cfg, _, err := loadConfig([]string{"--config", file, "--port", "7003"}, env(map[string]string{"PORT": "7002", "HOST": "127.0.0.3"}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 7003 || cfg.Host != "127.0.0.3" || cfg.Shards != 3 {
		t.Fatalf("port %d host %s shards %d: want flag 7003, env host, file shards 3", cfg.Port, cfg.Host, cfg.Shards)
	}
}

func TestBadInputIsAnErrorNamingIt(t *testing.T) {
	var stderr bytes.Buffer
	if _, _, err := loadConfig([]string{"--port", "x"}, env(nil), &stderr); err == nil {
		t.Fatal("non-numeric --port accepted")
	}
	if _, _, err := loadConfig([]string{"extra"}, env(nil), &stderr); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Fatalf("stray argument: %v", err)
	}
	file := writeConfig(t, `{"port": "many"}`)
	if _, _, err := loadConfig([]string{"--config", file}, env(nil), &stderr); err == nil || !strings.Contains(err.Error(), "port") {
		t.Fatalf("wrong type: %v", err)
	}
	if _, _, err := loadConfig([]string{"--help"}, env(nil), &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "--shards") && !strings.Contains(stderr.String(), "-shards") {
		t.Fatalf("--help: %v %q", err, stderr.String())
	}
}

// freePort picks a port free on 127.0.0.1 below the kernel's ephemeral
// range (32768 and up by default): a listen(":0") port lies inside it, and
// a child server's own outgoing connection (to its bus, its database) could
// take it before the child binds it.
func freePort(t testing.TB) int {
	t.Helper()
	for tries := 0; tries < 200; tries++ {
		p := 20000 + rand.IntN(12000)
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			_ = ln.Close()
			return p
		}
	}
	t.Fatal("no free port in 20000-31999")
	return 0
}

func TestStartServeAndDrain(t *testing.T) {
	port, mport := freePort(t), freePort(t)
	var stderr bytes.Buffer
	cfg, _, err := loadConfig([]string{"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--metrics-host", "127.0.0.1", "--metrics-port", strconv.Itoa(mport), "--shards", "2"},
		env(map[string]string{"SOCKUDO_DEFAULT_APP_ID": "1", "SOCKUDO_DEFAULT_APP_KEY": "k", "SOCKUDO_DEFAULT_APP_SECRET": "s"}), &stderr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := start(cfg, options{}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if line := stderr.String(); !strings.Contains(line, strconv.Itoa(port)) || !strings.Contains(line, "2 shards") || !strings.Contains(line, "1 apps") {
		t.Fatalf("start-up line %q", line)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	waitStatus(t, base+"/up", 200)
	mbase := "http://127.0.0.1:" + strconv.Itoa(mport)
	waitStatus(t, mbase+"/ready", 200)
	resp, err := http.Get(mbase + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `sockudo_active_connections{app_id="1"} 0`) {
		t.Fatalf("metrics without the app's connection gauge:\n%.2000s", body)
	}
	if err := n.shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/up"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d (last err %v)", url, want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReusePortSharesThePort: two nodes started with --reuse-port bind the
// same port; without it the second is refused.
func TestReusePortSharesThePort(t *testing.T) {
	port := freePort(t)
	startOn := func(reuse bool) (*node, error) {
		var stderr bytes.Buffer
		args := []string{"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--metrics-port", strconv.Itoa(freePort(t)), "--metrics-host", "127.0.0.1"}
		if reuse {
			args = append(args, "--reuse-port")
		}
		cfg, o, err := loadConfig(args, env(map[string]string{"SOCKUDO_DEFAULT_APP_ID": "1", "SOCKUDO_DEFAULT_APP_KEY": "k", "SOCKUDO_DEFAULT_APP_SECRET": "s"}), &stderr)
		if err != nil {
			t.Fatal(err)
		}
		return start(cfg, o, &stderr)
	}
	a, err := startOn(true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.shutdown()
	if c, err := startOn(false); err == nil {
		c.shutdown()
		t.Fatal("a second node without --reuse-port bound a taken port")
	}
	b, err := startOn(true)
	if err != nil {
		t.Fatalf("second node with --reuse-port: %v", err)
	}
	defer b.shutdown()
	waitStatus(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/up", 200)
}
