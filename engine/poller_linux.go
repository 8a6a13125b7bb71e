package engine

import (
	"errors"
	"sync"
	"syscall"
)

// pollReadSize is the read buffer one poller shares between all its
// connections: large enough for a burst of client events in one read.
const pollReadSize = 64 << 10

// poller reads a worker's connections when epoll reports them readable.
// One goroutine per worker blocks in epoll_wait; a connection costs an
// entry in conns and nothing else while idle.
type poller struct {
	epfd  int
	wakeR int // read end of the stop pipe, registered in epfd
	wakeW int
	mu    sync.Mutex
	conns map[int32]*Conn
	buf   []byte
	// scratch is the unmask space of every connection this poller feeds
	// (it feeds them one at a time), so idle connections keep none.
	scratch []byte
	events  [128]syscall.EpollEvent
	done    chan struct{}

	// Read in progress, kept here so the RawConn callback allocates
	// nothing; only the poller goroutine uses them.
	n      int
	err    error
	readFn func(fd uintptr) bool
}

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	p := &poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], conns: make(map[int32]*Conn),
		buf: make([]byte, pollReadSize), done: make(chan struct{})}
	p.readFn = p.readFD
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wakeR)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wakeR, &ev); err != nil {
		p.closeFDs()
		return nil, err
	}
	return p, nil
}

func (p *poller) closeFDs() {
	syscall.Close(p.epfd)
	syscall.Close(p.wakeR)
	syscall.Close(p.wakeW)
}

// add registers c's socket, level-triggered. It runs on the adapter's
// goroutine while the worker may be closing c, so both sides hold p.mu: a
// close that came first (state closed before remove) makes add refuse, and
// a close that comes later finds the registration to undo before the
// descriptor is closed, so a reused descriptor number is never read for c.
func (p *poller) add(c *Conn, raw syscall.RawConn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.state.Load() == stateClosed {
		return errClosing
	}
	var fd int
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	c.raw, c.fd = raw, int32(fd)
	c.fr.Scratch = &p.scratch
	p.conns[int32(fd)] = c
	return nil
}

// remove unregisters c before its socket is closed (see add).
func (p *poller) remove(c *Conn) {
	p.mu.Lock()
	if c.raw != nil && p.conns[c.fd] == c {
		delete(p.conns, c.fd)
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(c.fd), nil)
	}
	p.mu.Unlock()
}

// run waits for readiness and feeds what it reads, until stop.
func (p *poller) run() {
	defer close(p.done)
	for {
		n, err := syscall.EpollWait(p.epfd, p.events[:], -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for i := 0; i < n; i++ {
			fd := p.events[i].Fd
			if fd == int32(p.wakeR) {
				p.closeFDs()
				return
			}
			p.mu.Lock()
			c := p.conns[fd]
			p.mu.Unlock()
			if c != nil {
				p.read(c)
			}
		}
	}
}

// read drains what c's socket holds (a few reads at most, so one busy
// connection cannot starve the others) and feeds it to the engine.
func (p *poller) read(c *Conn) {
	for range 4 {
		if err := c.raw.Read(p.readFn); err != nil {
			p.err = err
		}
		n, err := p.n, p.err
		p.n, p.err = 0, nil
		if errors.Is(err, syscall.EAGAIN) {
			return
		}
		if n > 0 && c.Feed(p.buf[:n]) != nil {
			p.remove(c)
			return
		}
		if n == 0 || err != nil {
			p.remove(c)
			c.Gone(err)
			return
		}
		if n < len(p.buf) {
			return
		}
	}
}

// readFD is the RawConn.Read callback; returning true keeps the runtime
// from parking the poller on one connection.
func (p *poller) readFD(fd uintptr) bool {
	n, err := syscall.Read(int(fd), p.buf)
	if n < 0 {
		n = 0
	}
	p.n, p.err = n, err
	return true
}

// stop wakes run and waits for it to release its descriptors.
func (p *poller) stop() {
	_, _ = syscall.Write(p.wakeW, []byte{0})
	<-p.done
}
