package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/hist"
	"github.com/sockudo/sockudo-go/bench/internal/wire"
	"github.com/sockudo/sockudo-go/protocol"
)

// publisher drives the signed HTTP API with PubConc keep-alive workers,
// either paced (open loop) or back-to-back (closed loop).
type publisher struct {
	cfg      *Config
	host     string
	path     string // /apps/{id}/events or /batch_events
	subs     []int64
	inFlight func() int64 // expected - received, for the closed-loop window
	window   int64

	next      atomic.Uint64 // round-robin channel counter
	accepted  atomic.Int64  // events
	failed    atomic.Int64  // events
	dropped   atomic.Int64  // events the generator could not send in time
	requests  atomic.Int64
	expected  atomic.Int64 // Σ accepted events × subscribers of their channel
	httpNanos atomic.Int64 // Σ request round trips

	latMu sync.Mutex
	lat   *hist.H // round trips of answered requests, µs (merged per worker)

	errMu sync.Mutex
	errs  map[string]int

	presign []presigned // http-only: one signed request per channel, refreshed
	preMu   sync.Mutex
}

type presigned struct {
	body  []byte
	query string
	at    time.Time
}

func newPublisher(cfg *Config, subs []int64, inFlight func() int64) (*publisher, error) {
	u, err := url.Parse(cfg.API)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("only http:// API URLs are supported (got %q)", cfg.API)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	p := &publisher{cfg: cfg, host: host, subs: subs, inFlight: inFlight, errs: map[string]int{}, lat: hist.New()}
	p.path = "/apps/" + cfg.AppID + "/events"
	if cfg.Batch > 1 {
		p.path = "/apps/" + cfg.AppID + "/batch_events"
	}
	var maxSubs int64
	for _, s := range subs {
		maxSubs = max(maxSubs, s)
	}
	p.window = int64(cfg.Window)
	if p.window == 0 {
		p.window = 4 * maxSubs * int64(cfg.Batch)
	}
	p.presign = make([]presigned, cfg.Channels)
	return p, nil
}

func (p *publisher) noteErr(s string) {
	if len(s) > 160 {
		s = s[:160]
	}
	p.errMu.Lock()
	if len(p.errs) < 20 || p.errs[s] > 0 {
		p.errs[s]++
	}
	p.errMu.Unlock()
}

func (p *publisher) errorList() []string {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	var out []string
	for m, n := range p.errs {
		out = append(out, fmt.Sprintf("%d× %s", n, m))
	}
	return out
}

// run publishes until d has passed, then waits for requests in flight.
func (p *publisher) run(d time.Duration) {
	deadline := time.Now().Add(d)
	var jobs chan struct{}
	var wg sync.WaitGroup
	if p.cfg.Rate > 0 {
		jobs = make(chan struct{}, 4*p.cfg.PubConc)
		wg.Add(1)
		go func() { defer wg.Done(); p.pace(jobs, deadline) }()
	}
	for w := 0; w < p.cfg.PubConc; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); p.worker(jobs, deadline) }()
	}
	wg.Wait()
}

// pace emits one job per request due at Rate events/s; when the queue is
// full the request is dropped and counted as a generator drop.
func (p *publisher) pace(jobs chan<- struct{}, deadline time.Time) {
	defer close(jobs)
	perReq := float64(p.cfg.Batch)
	reqRate := p.cfg.Rate / perReq
	period := time.Duration(float64(time.Second) / reqRate)
	period = max(period, time.Millisecond)
	start := time.Now()
	var sent int64
	t := time.NewTicker(period)
	defer t.Stop()
	emit := func(now time.Time) {
		due := int64(now.Sub(start).Seconds()*reqRate) + 1
		for ; sent < due; sent++ {
			select {
			case jobs <- struct{}{}:
			default:
				p.dropped.Add(int64(p.cfg.Batch))
			}
		}
	}
	emit(start)
	for now := range t.C {
		if !now.Before(deadline) {
			return
		}
		emit(now)
	}
}

type httpConn struct {
	c  net.Conn
	br *bufio.Reader
}

func (p *publisher) worker(jobs <-chan struct{}, deadline time.Time) {
	var hc *httpConn
	lat := hist.New()
	defer func() {
		if hc != nil {
			hc.c.Close()
		}
		p.latMu.Lock()
		p.lat.Merge(lat)
		p.latMu.Unlock()
	}()
	body := make([]byte, 0, 2048)
	req := make([]byte, 0, 4096)
	closed := p.cfg.Rate == 0
	for {
		if closed {
			if !time.Now().Before(deadline) {
				return
			}
			if !p.cfg.HTTPOnly && p.inFlight != nil {
				for p.inFlight() >= p.window {
					if !time.Now().Before(deadline) {
						return
					}
					time.Sleep(200 * time.Microsecond)
				}
			}
		} else if _, ok := <-jobs; !ok {
			return
		}
		if hc == nil {
			c, err := net.DialTimeout("tcp", p.host, 5*time.Second)
			if err != nil {
				p.failed.Add(int64(p.cfg.Batch))
				p.noteErr("api dial: " + err.Error())
				time.Sleep(10 * time.Millisecond)
				continue
			}
			hc = &httpConn{c: c, br: bufio.NewReaderSize(c, 4096)}
		}
		var chans [10]int
		var query string
		body, query, chans = p.build(body[:0])
		req = append(req[:0], "POST "...)
		req = append(req, p.path...)
		req = append(req, '?')
		req = append(req, query...)
		req = append(req, " HTTP/1.1\r\nHost: "...)
		req = append(req, p.host...)
		req = append(req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		req = strconv.AppendInt(req, int64(len(body)), 10)
		req = append(req, "\r\n\r\n"...)
		req = append(req, body...)
		t0 := time.Now()
		_ = hc.c.SetDeadline(t0.Add(10 * time.Second))
		status, keep, msg, err := roundTrip(hc, req)
		rtt := time.Since(t0)
		p.httpNanos.Add(int64(rtt))
		if err == nil {
			lat.Record(rtt.Microseconds())
		}
		p.requests.Add(1)
		n := int64(p.cfg.Batch)
		switch {
		case err != nil:
			p.failed.Add(n)
			p.noteErr("api: " + err.Error())
			hc.c.Close()
			hc = nil
			continue
		case status == 200:
			p.accepted.Add(n)
			var exp int64
			for _, ch := range chans[:p.cfg.Batch] {
				if ch < len(p.subs) {
					exp += p.subs[ch]
				}
			}
			p.expected.Add(exp)
		default:
			p.failed.Add(n)
			p.noteErr(fmt.Sprintf("HTTP %d: %s", status, msg))
		}
		if !keep {
			hc.c.Close()
			hc = nil
		}
	}
}

// build writes the next request body and returns its signed query and the
// channel indices it targets.
func (p *publisher) build(body []byte) ([]byte, string, [10]int) {
	var chans [10]int
	C := uint64(p.cfg.Channels)
	for k := 0; k < p.cfg.Batch; k++ {
		chans[k] = int((p.next.Add(1) - 1) % C)
	}
	if p.cfg.HTTPOnly {
		b, q := p.presigned(chans[:p.cfg.Batch], body)
		return b, q, chans
	}
	now := time.Now()
	body = p.appendBody(body, chans[:p.cfg.Batch], now.UnixNano())
	q := protocol.SignRequest("POST", p.path, nil, body, p.cfg.Key, p.cfg.Secret, now)
	return body, q, chans
}

// presigned returns a body and signature reused for 30 s (http-only mode,
// where nobody reads the timestamp), so the generator spends its CPU on
// requests, not on HMACs.
func (p *publisher) presigned(chans []int, body []byte) ([]byte, string) {
	p.preMu.Lock()
	defer p.preMu.Unlock()
	ps := &p.presign[chans[0]]
	if ps.body == nil || time.Since(ps.at) > 30*time.Second {
		now := time.Now()
		ps.body = p.appendBody(nil, chans, now.UnixNano())
		ps.query = protocol.SignRequest("POST", p.path, nil, ps.body, p.cfg.Key, p.cfg.Secret, now)
		ps.at = now
	}
	return append(body, ps.body...), ps.query
}

func (p *publisher) appendBody(b []byte, chans []int, nanos int64) []byte {
	event := func(b []byte, ch int) []byte {
		b = append(b, `{"name":"`...)
		b = append(b, p.cfg.Event...)
		b = append(b, `","channel":"bench-`...)
		b = strconv.AppendInt(b, int64(ch), 10)
		b = append(b, `","data":"`...)
		b = wire.AppendPayload(b, nanos, p.cfg.Payload)
		return append(b, `"}`...)
	}
	if p.cfg.Batch == 1 {
		return event(b, chans[0])
	}
	b = append(b, `{"batch":[`...)
	for k, ch := range chans {
		if k > 0 {
			b = append(b, ',')
		}
		b = event(b, ch)
	}
	return append(b, "]}"...)
}

var errProto = errors.New("malformed HTTP response")

// atoi parses a non-negative decimal; -1 if b is not one.
func atoi(b []byte) int {
	if len(b) == 0 || len(b) > 9 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// roundTrip writes req and reads one HTTP/1.1 response; it returns the
// status, whether the connection stays open, and a body excerpt on error.
func roundTrip(hc *httpConn, req []byte) (status int, keep bool, msg string, err error) {
	if _, err = hc.c.Write(req); err != nil {
		return 0, false, "", err
	}
	line, err := hc.br.ReadSlice('\n')
	if err != nil {
		return 0, false, "", err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, "", errProto
	}
	if status = atoi(line[9:12]); status < 100 {
		return 0, false, "", errProto
	}
	keep = line[7] == '1'
	length := -1
	chunked := false
	for {
		h, err := hc.br.ReadSlice('\n')
		if err != nil {
			return 0, false, "", err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		colon := bytes.IndexByte(h, ':')
		if colon < 0 {
			continue
		}
		name, val := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			length = atoi(val)
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			chunked = bytes.EqualFold(val, []byte("chunked"))
		case bytes.EqualFold(name, []byte("connection")):
			if bytes.EqualFold(val, []byte("close")) {
				keep = false
			} else if bytes.EqualFold(val, []byte("keep-alive")) {
				keep = true
			}
		}
	}
	var bodyBuf bytes.Buffer
	sink := io.Writer(io.Discard)
	if status != 200 {
		sink = &bodyBuf
	} else if !chunked && length >= 0 && length <= hc.br.Size() {
		// Fast path: a small body already buffered or arriving whole.
		if _, err := hc.br.Discard(length); err != nil {
			return 0, false, "", err
		}
		return status, keep, "", nil
	}
	switch {
	case chunked:
		for {
			l, err := hc.br.ReadSlice('\n')
			if err != nil {
				return 0, false, "", err
			}
			sz, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(l, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return 0, false, "", errProto
			}
			if sz == 0 {
				for { // trailers
					t, err := hc.br.ReadSlice('\n')
					if err != nil {
						return 0, false, "", err
					}
					if len(bytes.TrimSpace(t)) == 0 {
						break
					}
				}
				break
			}
			if _, err := io.CopyN(sink, hc.br, sz); err != nil {
				return 0, false, "", err
			}
			if _, err := hc.br.Discard(2); err != nil {
				return 0, false, "", err
			}
		}
	case length >= 0:
		if _, err := io.CopyN(sink, hc.br, int64(length)); err != nil {
			return 0, false, "", err
		}
	default:
		// Body until close.
		_, _ = io.Copy(sink, hc.br)
		keep = false
	}
	msg = bodyBuf.String()
	if len(msg) > 100 {
		msg = msg[:100]
	}
	return status, keep, msg, nil
}
