package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEdgeTLSReloadOnSIGHUPAndRateLimits starts a node with ssl and the
// rate limiter on, then renews the certificate and sends the process a
// real SIGHUP.
func TestEdgeTLSReloadOnSIGHUPAndRateLimits(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestCert(t, cert, key)
	port, mport, rport := freePort(t), freePort(t), freePort(t)
	n, stderr := startNode(t, `{"host": "127.0.0.1", "port": `+strconv.Itoa(port)+`, "shards": 1,
		"metrics": {"enabled": true, "host": "127.0.0.1", "port": `+strconv.Itoa(mport)+`},
		"ssl": {"enabled": true, "cert_path": "`+cert+`", "key_path": "`+key+`", "redirect_http": true, "http_port": `+strconv.Itoa(rport)+`},
		"rate_limiter": {"enabled": true, "api_rate_limit": {"max_requests": 1, "window_seconds": 60}},
		"app_manager": {"driver": "memory", "array": {"apps": [{"id": "1", "key": "k", "secret": "s"}]}}}`)
	defer func() {
		if err := n.shutdown(); err != nil {
			t.Error(err)
		}
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	serial := func() int64 {
		// Trust whatever is served: the test reads the serial.
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	first := serial()

	// ssl.redirect_http: the plain port sends clients to https.
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	redir, err := plain.Get("http://127.0.0.1:" + strconv.Itoa(rport) + "/apps/1/channels?info=user_count")
	if err != nil {
		t.Fatal(err)
	}
	redir.Body.Close()
	if want := "https://127.0.0.1:" + strconv.Itoa(port) + "/apps/1/channels?info=user_count"; redir.StatusCode != http.StatusMovedPermanently || redir.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want 301 %q", redir.StatusCode, redir.Header.Get("Location"), want)
	}

	https := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, cert)}}}
	status := func(path string) int {
		resp, err := https.Get("https://localhost:" + strconv.Itoa(port) + path)
		if err != nil {
			t.Fatalf("https GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("/up"); s != http.StatusOK {
		t.Fatalf("/up over https: %d", s)
	}
	// The second API request of the minute is refused and counted.
	status("/apps/1/channels")
	if s := status("/apps/1/channels"); s != http.StatusTooManyRequests {
		t.Fatalf("second API request: %d, want 429", s)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `sockudo_rate_limit_triggered_total{limiter_type="api"} 1`) {
		t.Fatalf("refusal not counted:\n%s", grepLines(string(body), "rate_limit"))
	}

	writeTestCert(t, cert, key)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for serial() == first {
		if time.Now().After(deadline) {
			t.Fatalf("certificate not reloaded on SIGHUP; log:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func certPool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		t.Fatal("no certificate in " + path)
	}
	return p
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
