package loadgen

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// Poster sends signed POSTs to the HTTP API over one keep-alive HTTP/1.1
// connection, with the publisher's request writer and response reader,
// for scenarios that publish their own way (bench/internal/resume).
// One goroutine at a time.
type Poster struct {
	host, key, secret string
	hc                *httpConn
	req               []byte
}

// NewPoster returns a poster for the API base URL (http:// only).
func NewPoster(api, key, secret string) (*Poster, error) {
	u, err := url.Parse(api)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("only http:// API URLs are supported (got %q)", api)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	return &Poster{host: host, key: key, secret: secret}, nil
}

// Post signs body for path now, sends it and reads the answer: the
// status, and a body excerpt when it is not 200. A transport error
// closes the connection; the next Post dials again.
func (p *Poster) Post(path string, body []byte) (status int, msg string, err error) {
	if p.hc == nil {
		c, err := net.DialTimeout("tcp", p.host, 5*time.Second)
		if err != nil {
			return 0, "", fmt.Errorf("api dial: %w", err)
		}
		p.hc = &httpConn{c: c, br: bufio.NewReaderSize(c, 4096)}
	}
	q := protocol.SignRequest("POST", path, nil, body, p.key, p.secret, time.Now())
	r := append(p.req[:0], "POST "...)
	r = append(r, path...)
	r = append(r, '?')
	r = append(r, q...)
	r = append(r, " HTTP/1.1\r\nHost: "...)
	r = append(r, p.host...)
	r = append(r, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	r = strconv.AppendInt(r, int64(len(body)), 10)
	r = append(r, "\r\n\r\n"...)
	r = append(r, body...)
	p.req = r
	_ = p.hc.c.SetDeadline(time.Now().Add(10 * time.Second))
	status, keep, msg, err := roundTrip(p.hc, r)
	if err != nil || !keep {
		p.Close()
	}
	return status, msg, err
}

// Close closes the connection.
func (p *Poster) Close() {
	if p.hc != nil {
		p.hc.c.Close()
		p.hc = nil
	}
}

// ProcCPU is the user+system CPU of pid in µs (0 when unknown).
func ProcCPU(pid int) int64 { return procCPU(pid) }
