package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The deployment files are checked with the real tools. Outside CI a
// missing tool skips the test naming its Debian package; with CI=true it
// fails, so CI cannot pass without checking them.
func needTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	// nginx installs to /usr/sbin, often missing from a user's PATH.
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p, err := exec.LookPath(filepath.Join(dir, tool)); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: install the Debian package %s", tool, pkg)
	}
	t.Skipf("%s not found: install the Debian package %s to run this test", tool, pkg)
	return ""
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSystemdUnit(t *testing.T) {
	unit := readRepoFile(t, "configs/systemd/sockudo.service")
	// What the issue requires, read back from the file.
	for _, want := range []string{"KillSignal=SIGTERM", "Restart=on-failure", "User=sockudo", "NoNewPrivileges=yes", "ProtectSystem=strict", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("unit lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`\nLimitNOFILE=(\d+)\n`).FindStringSubmatch(unit); m == nil || atoi(t, m[1]) < 100_000 {
		t.Errorf("LimitNOFILE not raised: %v", m)
	}
	// The stop timeout must outlast the default shutdown_grace_period.
	grace := defaultGrace(t)
	if m := regexp.MustCompile(`\nTimeoutStopSec=(\d+)\n`).FindStringSubmatch(unit); m == nil || time.Duration(atoi(t, m[1]))*time.Second <= grace {
		t.Errorf("TimeoutStopSec %v not above the grace period %v", m, grace)
	}

	tool := needTool(t, "systemd-analyze", "systemd")
	// verify checks that ExecStart is executable: point it at this test
	// binary. Warnings (unknown keys, bad values) fail the test too.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "sockudo.service")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(unit, "/usr/local/bin/sockudo", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "verify", p).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestNginxConfig(t *testing.T) {
	conf := readRepoFile(t, "configs/nginx/sockudo.conf")
	for _, want := range []string{"proxy_set_header Upgrade    $http_upgrade;", "proxy_set_header Connection $sockudo_connection;",
		"proxy_read_timeout  3600s;", "$proxy_add_x_forwarded_for", "location = /ready", "proxy_http_version 1.1;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx config lacks %q", want)
		}
	}
	tool := needTool(t, "nginx", "nginx")
	// nginx -t opens the certificates: generate a pair and point the
	// config at it, inside a minimal main config with writable paths.
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestCert(t, cert, key)
	conf = strings.ReplaceAll(conf, "/etc/letsencrypt/live/ws.example.com/fullchain.pem", cert)
	conf = strings.ReplaceAll(conf, "/etc/letsencrypt/live/ws.example.com/privkey.pem", key)
	if err := os.WriteFile(filepath.Join(dir, "sockudo.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	main := "pid " + filepath.Join(dir, "nginx.pid") + ";\nerror_log stderr;\nevents {}\nhttp {\n" +
		"    access_log off;\n    client_body_temp_path " + dir + ";\n    include " + filepath.Join(dir, "sockudo.conf") + ";\n}\n"
	mainPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainPath, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-t", "-q", "-p", dir, "-e", "stderr", "-c", mainPath).CombinedOutput()
	if err != nil || strings.Contains(string(out), "[warn]") || strings.Contains(string(out), "[emerg]") {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}

func defaultGrace(t *testing.T) time.Duration {
	t.Helper()
	cfg, _, err := loadConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.ShutdownGracePeriod.Duration()
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// writeTestCert writes a self-signed certificate for localhost.
func writeTestCert(t *testing.T, certPath, keyPath string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
}
