package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// writeCert writes a fresh self-signed certificate for 127.0.0.1 with the
// given serial to certPath and keyPath and returns a pool trusting it.
func writeCert(t *testing.T, certPath, keyPath string, serial int64) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "sockudo test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func TestTLSAndCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	oldPool := writeCert(t, certPath, keyPath, 1)
	certs, err := NewCertReloader(certPath, keyPath, "")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(o *Options) { o.TLS = certs.TLSConfig() })

	// wss: a Pusher connection over TLS, read by the adapter's goroutine
	// (TLS sockets cannot be polled) and written by the engine's flusher.
	d := &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: oldPool}, HandshakeTimeout: waitFor}
	c := ts.dialWith(t, d, "wss", nil)
	c.subscribe("secure")
	https := &http.Client{Timeout: waitFor, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: oldPool}}}
	publish := func(client *http.Client, data string) int {
		t.Helper()
		body := `{"name":"e","channel":"secure","data":"` + data + `"}`
		req, _ := http.NewRequest(http.MethodPost, "https://"+ts.addr+"/apps/1/events?"+signQuery(http.MethodPost, "/apps/1/events", body), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("https publish: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := publish(https, "one"); st != http.StatusOK {
		t.Fatalf("https publish: %d", st)
	}
	if f := c.expect("e"); f.str() != "one" {
		t.Fatalf("event %+v", f)
	}
	// A plain-text request on the TLS port is not served.
	if _, err := http.Get("http://" + ts.addr + "/up"); err == nil {
		t.Fatal("plain HTTP answered on the TLS port")
	}

	// Renew: the established connection stays up, new handshakes see the
	// new certificate, and a broken file keeps the current one.
	newPool := writeCert(t, certPath, keyPath, 2)
	if err := certs.Reload(); err != nil {
		t.Fatal(err)
	}
	https2 := &http.Client{Timeout: waitFor, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: newPool}}}
	if st := publish(https2, "two"); st != http.StatusOK {
		t.Fatalf("https publish after reload: %d", st)
	}
	if f := c.expect("e"); f.str() != "two" {
		t.Fatalf("event after reload %+v", f)
	}
	conn, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: newPool})
	if err != nil {
		t.Fatalf("handshake with the new certificate: %v", err)
	}
	if sn := conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); sn != 2 {
		t.Fatalf("serial %d after reload, want 2", sn)
	}
	conn.Close()
	if conn, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: oldPool}); err == nil {
		conn.Close()
		t.Fatal("a new handshake still got the old certificate")
	}
	if err := os.WriteFile(certPath, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := certs.Reload(); err == nil {
		t.Fatal("Reload accepted a broken certificate")
	}
	c2 := ts.dialWith(t, &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: newPool}}, "wss", nil)
	c2.subscribe("secure")
	if st := publish(https2, "three"); st != http.StatusOK {
		t.Fatalf("publish: %d", st)
	}
	for _, w := range []*wsClient{c, c2} {
		if f := w.expect("e"); f.str() != "three" {
			t.Fatalf("event %+v", f)
		}
	}
	// Closing from the server side over TLS: the engine's 4200 on drain.
	_ = ts.eng.Shutdown(t.Context())
	if code, _ := c.expectClose(); code != 4200 {
		t.Fatalf("close code %d on drain, want 4200", code)
	}
}

func TestNewCertReloaderErrors(t *testing.T) {
	if _, err := NewCertReloader("", "", ""); err == nil {
		t.Fatal("empty paths accepted")
	}
	if _, err := NewCertReloader("/nonexistent/cert.pem", "/nonexistent/key.pem", ""); err == nil {
		t.Fatal("missing files accepted")
	}
}

// TestCertReloaderPassphrase: ssl.passphrase decrypts a traditionally
// encrypted key; a wrong or missing one, and PKCS#8 encryption, are clear
// errors.
func TestCertReloaderPassphrase(t *testing.T) {
	dir := t.TempDir()
	certPath, plainPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "plain.pem")
	writeCert(t, certPath, plainPath, 1)
	plain, _ := os.ReadFile(plainPath)
	b, _ := pem.Decode(plain)
	//lint:ignore SA1019 the legacy format is what ssl.passphrase is for
	enc, err := x509.EncryptPEMBlock(rand.Reader, b.Type, b.Bytes, []byte("s3cret"), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	encPath := filepath.Join(dir, "enc.pem")
	if err := os.WriteFile(encPath, pem.EncodeToMemory(enc), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCertReloader(certPath, encPath, "s3cret"); err != nil {
		t.Fatalf("encrypted key with its passphrase: %v", err)
	}
	if _, err := NewCertReloader(certPath, plainPath, "unused"); err != nil {
		t.Fatalf("plain key with a passphrase set: %v", err)
	}
	for _, tc := range []struct{ path, pass, want string }{
		{encPath, "", "set ssl.passphrase"},
		{encPath, "wrong", "decrypt with ssl.passphrase"},
	} {
		if _, err := NewCertReloader(certPath, tc.path, tc.pass); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("passphrase %q: error %v, want %q", tc.pass, err, tc.want)
		}
	}
	pkcs8Path := filepath.Join(dir, "pkcs8.pem")
	if err := os.WriteFile(pkcs8Path, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCertReloader(certPath, pkcs8Path, "s3cret"); err == nil || !strings.Contains(err.Error(), "PKCS#8") {
		t.Errorf("PKCS#8-encrypted key: %v", err)
	}
}
