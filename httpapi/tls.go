package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
)

// CertReloader serves a certificate pair read from files and re-reads it
// on Reload, so a renewed certificate is picked up (on SIGHUP, by cmd)
// without restarting: handshakes after Reload get the new certificate,
// established connections keep theirs. Safe for concurrent use.
type CertReloader struct {
	certPath, keyPath, passphrase string
	cert                          atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads the PEM certificate chain and key; it fails when
// they cannot be read or do not match. passphrase decrypts a key in the
// traditional OpenSSL encrypted format ("Proc-Type: 4,ENCRYPTED", what
// Soketi's and Sockudo's ssl.passphrase is used with); "" means the key is
// not encrypted.
func NewCertReloader(certPath, keyPath, passphrase string) (*CertReloader, error) {
	if certPath == "" || keyPath == "" {
		return nil, errors.New("httpapi: TLS needs a certificate and a key path")
	}
	r := &CertReloader{certPath: certPath, keyPath: keyPath, passphrase: passphrase}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads the files. On error the previous certificate stays in
// use, so a half-written renewal cannot take the listener down.
func (r *CertReloader) Reload() error {
	certPEM, err := os.ReadFile(r.certPath)
	if err != nil {
		return fmt.Errorf("httpapi: load TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(r.keyPath)
	if err == nil {
		keyPEM, err = decryptKey(keyPEM, r.passphrase)
	}
	if err != nil {
		return fmt.Errorf("httpapi: load TLS key %s: %w", r.keyPath, err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("httpapi: load TLS certificate: %w", err)
	}
	r.cert.Store(&c)
	return nil
}

// decryptKey returns keyPEM with its private key decrypted. A key that is
// not encrypted is returned as it is; an encrypted one needs passphrase.
func decryptKey(keyPEM []byte, passphrase string) ([]byte, error) {
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return keyPEM, nil // no key block: tls.X509KeyPair says why
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("PKCS#8-encrypted keys are not supported: convert the key with " +
				"`openssl pkey -in KEY -out PLAIN` (and protect the file), or to the traditional encrypted format")
		}
		//lint:ignore SA1019 ssl.passphrase exists for keys in this legacy format; nothing else in the standard library reads it
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") || !x509.IsEncryptedPEMBlock(b) {
			continue
		}
		if passphrase == "" {
			return nil, errors.New("the key is encrypted: set ssl.passphrase")
		}
		//lint:ignore SA1019 as above
		der, err := x509.DecryptPEMBlock(b, []byte(passphrase))
		if err == nil && !parsesAsKey(der) {
			// CBC padding catches a wrong passphrase only most of the time.
			err = x509.IncorrectPasswordError
		}
		if err != nil {
			return nil, fmt.Errorf("decrypt with ssl.passphrase: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: der}), nil
	}
}

func parsesAsKey(der []byte) bool {
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	if _, err := x509.ParseECPrivateKey(der); err == nil {
		return true
	}
	_, err := x509.ParsePKCS8PrivateKey(der)
	return err == nil
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
