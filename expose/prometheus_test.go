package expose

// Tests of the operator files under configs/ against the real tools: the
// Debian package "prometheus" provides both promtool and prometheus. They
// skip when it is missing, except in CI (CI=true), where they fail.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	promDir       = "../configs/prometheus"
	dashboardPath = "../configs/grafana/sockudo-dashboard.json"
)

// tool returns the path of a Prometheus binary, skipping the test when it
// is not installed (failing in CI).
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: install the Debian package \"prometheus\" (apt-get install prometheus)", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// run runs a command in dir and fails the test, showing its output, when
// it exits non-zero.
func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func TestPromtoolOperatorFiles(t *testing.T) {
	promtool := tool(t, "promtool")
	run(t, promDir, promtool, "check", "config", "prometheus.yml")
	run(t, promDir, promtool, "check", "rules", "alerts.yml")
	run(t, promDir, promtool, "test", "rules", "alerts_test.yml")
}

// lintAllowed are the promtool check metrics findings we accept, with the
// reason: the names are not ours to change.
var lintAllowed = map[string]string{
	// Sockudo's (and Soketi's) counter names, kept for drop-in dashboards.
	"sockudo_http_received_bytes":      `counter metrics should have "_total" suffix`,
	"sockudo_http_transmitted_bytes":   `counter metrics should have "_total" suffix`,
	"sockudo_socket_received_bytes":    `counter metrics should have "_total" suffix`,
	"sockudo_socket_transmitted_bytes": `counter metrics should have "_total" suffix`,
	// Go runtime gauges named by VictoriaMetrics/metrics.
	"go_cgo_calls_count": `non-histogram and non-summary metrics should not have "_count" suffix`,
	"go_cpu_count":       `non-histogram and non-summary metrics should not have "_count" suffix`,
	"go_gc_forced_count": `non-histogram and non-summary metrics should not have "_count" suffix`,
}

// checkMetrics pipes a scrape through promtool check metrics: exit 0, or
// exit 3 (lint findings only) with every finding in lintAllowed.
func checkMetrics(t *testing.T, promtool string, scrape []byte) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, finding, _ := strings.Cut(line, " ")
		if lintAllowed[name] != finding {
			t.Errorf("promtool check metrics: unexpected finding %q", line)
		}
	}
}

func TestPrometheusScrapesServer(t *testing.T) {
	promtool := tool(t, "promtool")
	prometheus := tool(t, "prometheus")

	n := newNode(t, Options{}, true)
	traffic(t, n.eng, 3)
	n.srv.ObserveHTTP("/apps/{app_id}/events", "POST", "app-1", 200, 2*time.Millisecond, 60, 2)
	n.srv.ObserveHTTP("/apps/{app_id}/channels", "GET", "", 401, time.Millisecond, 0, 40)
	n.srv.QueueJobProcessed(30 * time.Millisecond)
	n.srv.AdapterPublished()

	resp, err := http.Get(n.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkMetrics(t, promtool, scrape)

	api := startPrometheus(t, prometheus, strings.TrimPrefix(n.url, "http://"))
	exprs := append(alertExprs(t), dashboardExprs(t)...)
	if len(exprs) < 40 {
		t.Fatalf("found only %d expressions in alerts.yml and the dashboard", len(exprs))
	}
	// rate() and deriv() need two scrapes; poll every expression until it
	// returns a series or the deadline passes.
	deadline := time.Now().Add(60 * time.Second)
	pending := exprs
	for len(pending) > 0 && time.Now().Before(deadline) {
		var next []string
		for _, e := range pending {
			if n, err := querySeries(api, e); err != nil || n == 0 {
				next = append(next, e)
			}
		}
		pending = next
		if len(pending) > 0 {
			time.Sleep(250 * time.Millisecond)
		}
	}
	for _, e := range pending {
		_, err := querySeries(api, e)
		t.Errorf("no series for %s (err %v)", e, err)
	}
}

// startPrometheus runs prometheus with the shipped prometheus.yml, its
// target pointed at addr and its intervals cut to 1 s, and returns the
// base URL of its API once the target is up.
func startPrometheus(t *testing.T, bin, addr string) string {
	t.Helper()
	dir := t.TempDir()
	abs, err := filepath.Abs(promDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(promDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(cfg)
	for _, r := range [][2]string{
		{`"localhost:9601"`, `"` + addr + `"`},
		{"scrape_interval: 15s", "scrape_interval: 1s"},
		{"evaluation_interval: 15s", "evaluation_interval: 1s"},
		{"scrape_timeout: 10s", "scrape_timeout: 1s"},
		{"  - alerts.yml", "  - " + filepath.Join(abs, "alerts.yml")},
		{`"targets/`, `"` + abs + `/targets/`},
	} {
		if !strings.Contains(conf, r[0]) {
			t.Fatalf("prometheus.yml no longer contains %q", r[0])
		}
		conf = strings.ReplaceAll(conf, r[0], r[1])
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	web := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web,
		"--log.level=warn")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})
	api := "http://" + web
	waitFor(t, 30*time.Second, func() error {
		n, err := querySeries(api, `up{job="sockudo"} == 1`)
		if err != nil || n != 1 {
			return fmt.Errorf("sockudo target not up in prometheus (%d series, %v)", n, err)
		}
		return nil
	})
	return api
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// querySeries runs an instant query and returns how many series it gave.
func querySeries(api, expr string) (int, error) {
	resp, err := http.Get(api + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query %q: %s", expr, r.Error)
	}
	return len(r.Data.Result), nil
}

// alertExprs returns the expr of every rule in alerts.yml, each comparison
// made a "bool" one, so a healthy server still returns the series the
// rule would compare (an alert's expression is empty while it does not
// fire). A comparison with bool is 0 or 1 but keeps every series.
func alertExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(promDir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if rest == "|" || rest == "|-" || rest == ">" || rest == ">-" {
			indent := len(line) - len(strings.TrimLeft(line, " "))
			var block []string
			for i+1 < len(lines) {
				l := lines[i+1]
				if strings.TrimSpace(l) != "" && len(l)-len(strings.TrimLeft(l, " ")) <= indent {
					break
				}
				block = append(block, strings.TrimSpace(l))
				i++
			}
			rest = strings.TrimSpace(strings.Join(block, "\n"))
		}
		out = append(out, withBool(rest))
	}
	if len(out) != strings.Count(string(b), "- alert: ") {
		t.Fatalf("found %d exprs for %d alerts", len(out), strings.Count(string(b), "- alert: "))
	}
	return out
}

// withBool adds the bool modifier to every comparison outside label
// matchers and strings.
func withBool(expr string) string {
	var b strings.Builder
	depth := 0
	var quote byte
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		b.WriteByte(c)
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(expr) {
				i++
				b.WriteByte(expr[i])
			} else if c == quote {
				quote = 0
			}
			continue
		case c == '"' || c == '\'' || c == '`':
			quote = c
			continue
		case c == '{':
			depth++
			continue
		case c == '}':
			depth--
			continue
		}
		if depth > 0 || !strings.ContainsRune("=!<>", rune(c)) {
			continue
		}
		if i+1 < len(expr) && expr[i+1] == '=' {
			i++
			b.WriteByte('=')
		} else if c == '=' || c == '!' {
			continue // not a comparison (cannot occur outside {} in PromQL)
		}
		if !strings.HasPrefix(strings.TrimSpace(expr[i+1:]), "bool") {
			b.WriteString(" bool")
		}
	}
	return b.String()
}

// dashboardExprs returns every query of the dashboard: panel targets and
// the metric selectors of its label_values variables, with Grafana's
// variables replaced by values Prometheus accepts.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var raw []string
	walkJSON(d, func(key string, v string) {
		switch key {
		case "expr":
			raw = append(raw, v)
		case "definition":
			if sel, ok := strings.CutPrefix(v, "label_values("); ok {
				i := strings.LastIndexByte(sel, ',')
				raw = append(raw, sel[:i])
			}
		}
	})
	vars := strings.NewReplacer("$__rate_interval", "1m", "${instance}", ".*", "$instance", ".*",
		"${app_id}", ".*", "$app_id", ".*")
	var out []string
	for _, e := range raw {
		e = vars.Replace(e)
		if strings.Contains(e, "$") {
			t.Fatalf("unknown Grafana variable in %s", e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

func walkJSON(v any, f func(key, value string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if s, ok := c.(string); ok {
				f(k, s)
			}
			walkJSON(c, f)
		}
	case []any:
		for _, c := range x {
			walkJSON(c, f)
		}
	}
}

func TestWithBool(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := withBool(in); got != want {
			t.Errorf("withBool(%q) = %q, want %q", in, got, want)
		}
	}
	f(`up{job="sockudo"} == 0`, `up{job="sockudo"} == bool 0`)
	f(`a{x!="y",z=~"w"} > 1 and b >= bool 2`, `a{x!="y",z=~"w"} > bool 1 and b >= bool 2`)
	f(`a / b < 0.5 * c != 3`, `a / b < bool 0.5 * c != bool 3`)
	f(`rate(a{p!~"x|/app/.*"}[5m]) <= 1`, `rate(a{p!~"x|/app/.*"}[5m]) <= bool 1`)
}

// TestDashboardShape checks what Grafana's import needs: a Prometheus
// data source variable used by every panel, and the instance and app_id
// variables.
func TestDashboardShape(t *testing.T) {
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name, Type string
				Query      any
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title, Type string
			Datasource  *struct{ Type, UID string }
			Targets     []struct{ Expr string }
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name+":"+v.Type)
	}
	for _, want := range []string{"datasource:datasource", "instance:query", "app_id:query"} {
		if !slices.Contains(vars, want) {
			t.Errorf("dashboard variables %v lack %s", vars, want)
		}
	}
	ref := regexp.MustCompile(`^\$\{datasource\}$`)
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || !ref.MatchString(p.Datasource.UID) {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
}

// lockedBuffer collects a process's output from two pipes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
