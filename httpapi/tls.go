package httpapi

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
)

// CertReloader serves a certificate pair read from files and re-reads it
// on Reload, so a renewed certificate is picked up (on SIGHUP, by cmd)
// without restarting: handshakes after Reload get the new certificate,
// established connections keep theirs. Safe for concurrent use.
type CertReloader struct {
	certPath, keyPath string
	cert              atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads the PEM certificate chain and key; it fails when
// they cannot be read or do not match.
func NewCertReloader(certPath, keyPath string) (*CertReloader, error) {
	if certPath == "" || keyPath == "" {
		return nil, errors.New("httpapi: TLS needs a certificate and a key path")
	}
	r := &CertReloader{certPath: certPath, keyPath: keyPath}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads the files. On error the previous certificate stays in
// use, so a half-written renewal cannot take the listener down.
func (r *CertReloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certPath, r.keyPath)
	if err != nil {
		return fmt.Errorf("httpapi: load TLS certificate: %w", err)
	}
	r.cert.Store(&c)
	return nil
}

// GetCertificate is the tls.Config hook returning the current certificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// TLSConfig returns a server configuration using the reloader: TLS 1.2 or
// newer, HTTP/1.1 only (WebSocket upgrades need it).
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}
