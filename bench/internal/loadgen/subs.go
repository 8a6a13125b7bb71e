package loadgen

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/hist"
	"github.com/sockudo/sockudo-go/bench/internal/wire"
	"github.com/sockudo/sockudo-go/protocol"
)

// conn is one subscribed socket after its handshake: a raw non-blocking
// fd read by exactly one reader goroutine.
type conn struct {
	fd    int
	pend  []byte // partial frame carried between reads
	timed bool
	dead  bool
}

// reader drains its connections on epoll readiness (level-triggered, one
// read per ready socket per pass). A lazy reader sleeps between passes so
// several frames pile up per read.
type reader struct {
	epfd   int
	lazy   time.Duration
	table  []atomic.Pointer[conn] // fd → conn, shared
	hist   *hist.H
	recv   atomic.Int64
	closed atomic.Int64
	// also* are the deliveries of -also-channel, told apart by the quoted
	// channel name in the frame (nil needle: no such channel).
	alsoNeedle []byte
	alsoHist   *hist.H
	alsoRecv   atomic.Int64
	_          [40]byte

	mu         sync.Mutex
	closeCodes map[int]int
	errors     []string
}

// localGroup is the set of subscribers held by this process.
type localGroup struct {
	cfg      *Config
	offset   int
	size     int
	readers  []*reader // timed first, then lazy
	nTimed   int
	table    []atomic.Pointer[conn]
	stop     atomic.Bool
	wg       sync.WaitGroup
	perChan  []atomic.Int32
	done     atomic.Int64 // handshakes finished (ok or failed)
	ok       atomic.Int64
	failed   atomic.Int64
	errMu    sync.Mutex
	errs     map[string]int
	connSecs float64
}

const maxFD = 1 << 16

func newLocalGroup(cfg *Config, offset, size int) (*localGroup, error) {
	g := &localGroup{cfg: cfg, offset: offset, size: size,
		table: make([]atomic.Pointer[conn], maxFD), perChan: make([]atomic.Int32, cfg.Channels),
		errs: map[string]int{}}
	nLazy := 0
	if cfg.Sample > 1 {
		nLazy = 1
	}
	g.nTimed = cfg.Readers
	for i := 0; i < g.nTimed+nLazy; i++ {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("epoll_create1: %w", err)
		}
		r := &reader{epfd: epfd, table: g.table, hist: hist.New(), alsoHist: hist.New(), closeCodes: map[int]int{}}
		if cfg.AlsoChannel != "" {
			r.alsoNeedle = []byte(`"` + cfg.AlsoChannel + `"`)
		}
		if i >= g.nTimed {
			r.lazy = cfg.Lazy
		}
		g.readers = append(g.readers, r)
		g.wg.Add(1)
		go func() { defer g.wg.Done(); r.loop(&g.stop) }()
	}
	return g, nil
}

// connect dials, handshakes and subscribes every connection of the group
// with bounded concurrency.
func (g *localGroup) connect(conc int) {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	wsURL, host, err := wsTarget(g.cfg)
	if err != nil {
		g.failed.Add(int64(g.size))
		g.noteErr(err)
		return
	}
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8192)
			for {
				j := int(next.Add(1)) - 1
				if j >= g.size {
					return
				}
				i := g.offset + j
				if err := g.dialOne(i, wsURL, host, buf); err != nil {
					g.failed.Add(1)
					g.noteErr(err)
				} else {
					g.ok.Add(1)
				}
				g.done.Add(1)
			}
		}()
	}
	wg.Wait()
	g.connSecs = time.Since(start).Seconds()
}

func (g *localGroup) noteErr(err error) {
	msg := err.Error()
	if len(msg) > 160 {
		msg = msg[:160]
	}
	g.errMu.Lock()
	if len(g.errs) < 20 || g.errs[msg] > 0 {
		g.errs[msg]++
	}
	g.errMu.Unlock()
}

func (g *localGroup) errorList() []string {
	g.errMu.Lock()
	defer g.errMu.Unlock()
	var out []string
	for m, n := range g.errs {
		out = append(out, fmt.Sprintf("%d× %s", n, m))
	}
	return out
}

// wsTarget returns the request URI and host:port of the WebSocket URL.
func wsTarget(cfg *Config) (uri, host string, err error) {
	u, err := url.Parse(cfg.WS)
	if err != nil {
		return "", "", err
	}
	if u.Scheme != "ws" {
		return "", "", fmt.Errorf("only ws:// is supported (got %q)", cfg.WS)
	}
	host = u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	uri = u.RequestURI()
	if u.Path == "" || u.Path == "/" {
		uri = "/app/" + url.PathEscape(cfg.Key) + "?protocol=7&client=sockudo-bench&version=1.0.0&flash=false"
	}
	return uri, host, nil
}

// dialOne opens global connection i: dial from its source address, upgrade,
// wait for connection_established, subscribe, wait for
// subscription_succeeded, then hand the raw fd to a reader.
func (g *localGroup) dialOne(i int, uri, host string, buf []byte) error {
	cfg := g.cfg
	ch := i % cfg.Channels
	chName := channelName(ch)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: cfg.srcIP(i)}, Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", host)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	// The net.Conn is always closed: on success its fd has been dup'ed
	// into the reader's epoll set.
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET " + uri + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		return fmt.Errorf("upgrade write: %w", err)
	}
	data := buf[:0]
	hdrEnd := -1
	for hdrEnd < 0 {
		if len(data) == cap(data) {
			return errors.New("upgrade: response headers too long")
		}
		n, err := nc.Read(data[len(data):cap(data)])
		if err != nil {
			return fmt.Errorf("upgrade read: %w", err)
		}
		data = data[:len(data)+n]
		hdrEnd = bytes.Index(data, []byte("\r\n\r\n"))
	}
	status := data[:bytes.IndexByte(data, '\n')+1]
	if !bytes.Contains(status, []byte(" 101 ")) {
		return fmt.Errorf("upgrade: %s", strings.TrimSpace(string(status)))
	}
	rest := append([]byte(nil), data[hdrEnd+4:]...)
	next := func() (byte, []byte, error) {
		for {
			op, pl, k, err := wire.NextFrame(rest)
			if err != nil {
				return 0, nil, err
			}
			if k > 0 {
				p := append([]byte(nil), pl...)
				rest = rest[k:]
				return op, p, nil
			}
			n, err := nc.Read(buf)
			if err != nil {
				return 0, nil, err
			}
			rest = append(rest, buf[:n]...)
		}
	}
	// connection_established
	for {
		op, pl, err := next()
		if err != nil {
			return fmt.Errorf("waiting for connection_established: %w", err)
		}
		if op == wire.OpClose {
			return fmt.Errorf("closed before connection_established: %s", closeDesc(pl))
		}
		if op != wire.OpText {
			continue
		}
		ev := string(wire.Event(pl))
		if ev == "pusher:error" {
			return fmt.Errorf("pusher:error at handshake: %.120s", pl)
		}
		if ev != "pusher:connection_established" {
			return fmt.Errorf("first frame is %q, not connection_established", ev)
		}
		if sid := wire.SocketID(pl); !protocol.ValidSocketID(sid) {
			return fmt.Errorf("invalid socket_id %q", sid)
		}
		break
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], uint32(i)*2654435761)
	sub := wire.AppendClientFrame(nil, wire.OpText, wire.SubscribeMessage(chName), mask)
	if cfg.AlsoChannel != "" {
		sub = wire.AppendClientFrame(sub, wire.OpText, wire.SubscribeMessage(cfg.AlsoChannel), mask)
		if err := g.awaitAlso(nc, sub, chName, next); err != nil {
			return err
		}
	} else if _, err := nc.Write(sub); err != nil {
		return fmt.Errorf("subscribe write: %w", err)
	}
	for cfg.AlsoChannel == "" {
		op, pl, err := next()
		if err != nil {
			return fmt.Errorf("waiting for subscription_succeeded: %w", err)
		}
		if op == wire.OpClose {
			return fmt.Errorf("closed before subscription_succeeded: %s", closeDesc(pl))
		}
		if op != wire.OpText {
			continue
		}
		ev := string(wire.Event(pl))
		if ev == "pusher_internal:subscription_succeeded" && bytes.Contains(pl, []byte(`"`+chName+`"`)) {
			break
		}
		if ev == "pusher:error" || ev == "pusher:subscription_error" {
			return fmt.Errorf("%s: %.120s", ev, pl)
		}
	}
	// Take the fd away from Go's netpoller: dup it, close the net.Conn.
	sc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var derr error
	if err := sc.Control(func(f uintptr) { fd, derr = syscall.Dup(int(f)) }); err != nil || derr != nil {
		return fmt.Errorf("dup: %v %v", err, derr)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return err
	}
	if fd >= maxFD {
		syscall.Close(fd)
		return errors.New("fd beyond table")
	}
	c := &conn{fd: fd, timed: i%cfg.Sample == 0}
	if len(rest) > 0 {
		c.pend = append([]byte(nil), rest...)
	}
	var r *reader
	if c.timed || len(g.readers) == g.nTimed {
		r = g.readers[i%g.nTimed]
	} else {
		r = g.readers[g.nTimed]
	}
	g.table[fd].Store(c)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		g.table[fd].Store(nil)
		syscall.Close(fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	g.perChan[ch].Add(1)
	return nil
}

func closeDesc(pl []byte) string {
	if len(pl) < 2 {
		return "close (no code)"
	}
	return fmt.Sprintf("close %d %q", binary.BigEndian.Uint16(pl), pl[2:])
}

func (r *reader) loop(stop *atomic.Bool) {
	events := make([]syscall.EpollEvent, 1024)
	buf := make([]byte, 64<<10)
	for !stop.Load() {
		n, err := syscall.EpollWait(r.epfd, events, 100)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			r.noteErr("epoll_wait: " + err.Error())
			return
		}
		for k := 0; k < n; k++ {
			if c := r.table[events[k].Fd].Load(); c != nil && !c.dead {
				r.service(c, buf)
			}
		}
		if r.lazy > 0 && n < len(events) {
			time.Sleep(r.lazy)
		}
	}
}

func (r *reader) noteErr(s string) {
	r.mu.Lock()
	if len(r.errors) < 10 {
		r.errors = append(r.errors, s)
	}
	r.mu.Unlock()
}

// service reads once from c and handles every complete frame.
func (r *reader) service(c *conn, buf []byte) {
	n, err := syscall.Read(c.fd, buf)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil || n == 0 {
		r.kill(c, -1)
		return
	}
	now := time.Now().UnixNano()
	data := buf[:n]
	if len(c.pend) > 0 {
		c.pend = append(c.pend, data...)
		data = c.pend
	}
	var recv, also int64
	for {
		op, pl, k, err := wire.NextFrame(data)
		if err != nil {
			r.noteErr("bad frame from server")
			r.kill(c, -2)
			return
		}
		if k == 0 {
			break
		}
		data = data[k:]
		switch op {
		case wire.OpText:
			if ts, ok := wire.ParseStamp(pl); ok {
				h := r.hist
				if r.alsoNeedle != nil && bytes.Contains(pl, r.alsoNeedle) {
					also++
					h = r.alsoHist
				} else {
					recv++
				}
				if c.timed {
					h.Record((now - ts) / 1000)
				}
			} else if bytes.Equal(wire.Event(pl), []byte("pusher:ping")) {
				r.send(c, wire.OpText, wire.Pong)
			} else if ev := wire.Event(pl); bytes.Equal(ev, []byte("pusher:error")) {
				r.noteErr(fmt.Sprintf("pusher:error %.100s", pl))
			}
		case wire.OpPing:
			r.send(c, wire.OpPong, pl)
		case wire.OpClose:
			code := 1005
			if len(pl) >= 2 {
				code = int(binary.BigEndian.Uint16(pl))
			}
			r.recv.Add(recv + also)
			r.alsoRecv.Add(also)
			r.kill(c, code)
			return
		}
	}
	r.recv.Add(recv + also)
	r.alsoRecv.Add(also)
	switch {
	case len(data) == 0:
		if cap(c.pend) > 4096 {
			c.pend = nil
		} else {
			c.pend = c.pend[:0]
		}
	default:
		c.pend = append(c.pend[:0], data...)
	}
}

func (r *reader) send(c *conn, op byte, payload []byte) {
	f := wire.AppendClientFrame(make([]byte, 0, len(payload)+14), op, payload, [4]byte{7, 1, 3, 9})
	_, _ = syscall.Write(c.fd, f)
}

// kill closes c; code is the close code (-1 EOF/error, -2 protocol error).
func (r *reader) kill(c *conn, code int) {
	c.dead = true
	_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	r.table[c.fd].Store(nil)
	syscall.Close(c.fd)
	r.closed.Add(1)
	r.mu.Lock()
	r.closeCodes[code]++
	r.mu.Unlock()
}

func (g *localGroup) received() int64 {
	var s int64
	for _, r := range g.readers {
		s += r.recv.Load()
	}
	return s
}

// alsoReceived counts the deliveries of -also-channel (included in received).
func (g *localGroup) alsoReceived() int64 {
	var s int64
	for _, r := range g.readers {
		s += r.alsoRecv.Load()
	}
	return s
}

// finish stops the readers and returns the merged histogram and counters.
func (g *localGroup) finish() groupFinal {
	g.stop.Store(true)
	g.wg.Wait()
	f := groupFinal{Hist: hist.New(), AlsoHist: hist.New(), CloseCodes: map[int]int{}}
	for _, r := range g.readers {
		f.Received += r.recv.Load()
		f.AlsoReceived += r.alsoRecv.Load()
		f.Closed += r.closed.Load()
		f.Hist.Merge(r.hist)
		f.AlsoHist.Merge(r.alsoHist)
		for k, v := range r.closeCodes {
			f.CloseCodes[k] += v
		}
		f.Errors = append(f.Errors, r.errors...)
		syscall.Close(r.epfd)
	}
	for fd := range g.table {
		if c := g.table[fd].Load(); c != nil {
			syscall.Close(c.fd)
		}
	}
	return f
}

// groupFinal is what a subscriber group reports at the end.
type groupFinal struct {
	Received   int64       `json:"received"`
	Closed     int64       `json:"closed"`
	CloseCodes map[int]int `json:"close_codes"`
	Errors     []string    `json:"errors"`
	Hist       *hist.H     `json:"hist"`
	// AlsoReceived and AlsoHist are the -also-channel deliveries; Received
	// includes them, Hist does not.
	AlsoReceived int64   `json:"also_received,omitempty"`
	AlsoHist     *hist.H `json:"also_hist,omitempty"`
}
