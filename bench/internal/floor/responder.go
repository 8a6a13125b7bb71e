package floor

import (
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// httpResponse builds the 200 the server answers a publish with, byte for
// byte in shape and size (109 B: status line, Date, Content-Type,
// Content-Length, "{}"), so the floor moves the same bytes.
func httpResponse(now time.Time) []byte {
	return []byte("HTTP/1.1 200 OK\r\nDate: " + now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") +
		"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
}

// rconn is one keep-alive connection of the responder.
type rconn struct {
	fr    framer
	out   []byte // responses the socket did not take yet
	armed bool   // EPOLLOUT registered while out is not empty
}

// responder answers every complete request on its connections with one
// fixed 200: one epoll loop, raw non-blocking system calls, no parsing
// beyond framing. Its CPU per request is the HTTP floor of this box.
type responder struct {
	epfd, lfd int
	conns     []*rconn // by fd
	resp      []byte
	buf       []byte
	badFrames int
	failed    int // connections closed on a read or write error
}

// responderMain listens on 127.0.0.1, prints the address, and serves until
// stdin closes.
func responderMain() int {
	r, addr, err := newResponder()
	if err != nil {
		fmt.Fprintln(os.Stderr, "responder:", err)
		return 1
	}
	fmt.Println(addr)
	err = r.serve()
	if r.badFrames > 0 || r.failed > 0 {
		fmt.Fprintf(os.Stderr, "responder: %d connections closed on malformed requests, %d on socket errors\n", r.badFrames, r.failed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "responder:", err)
		return 1
	}
	return 0
}

func newResponder() (*responder, string, error) {
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, "", fmt.Errorf("socket: %w", err)
	}
	if err := syscall.Bind(lfd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return nil, "", fmt.Errorf("bind: %w", err)
	}
	if err := syscall.Listen(lfd, 1024); err != nil {
		return nil, "", fmt.Errorf("listen: %w", err)
	}
	sa, err := syscall.Getsockname(lfd)
	if err != nil {
		return nil, "", fmt.Errorf("getsockname: %w", err)
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, "", fmt.Errorf("epoll_create1: %w", err)
	}
	r := &responder{epfd: epfd, lfd: lfd, conns: make([]*rconn, 1024), resp: httpResponse(time.Now()),
		buf: make([]byte, 64<<10)}
	for _, fd := range []int{lfd, 0} { // stdin: its EOF ends the run
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return nil, "", fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	return r, fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port), nil
}

func (r *responder) serve() error {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := epollWait(r.epfd, events)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:n] {
			switch fd := int(ev.Fd); fd {
			case 0:
				if k, _ := rawRead(0, r.buf); k <= 0 {
					return nil
				}
			case r.lfd:
				r.accept()
			default:
				r.service(fd, ev.Events)
			}
		}
	}
}

func (r *responder) accept() {
	for {
		fd, _, err := syscall.Accept4(r.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN: all taken
		}
		for fd >= len(r.conns) {
			r.conns = append(r.conns, make([]*rconn, len(r.conns))...)
		}
		r.conns[fd] = &rconn{}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			r.drop(fd, &r.failed)
		}
	}
}

// service reads once from a ready connection and answers every request it
// completed with one write.
func (r *responder) service(fd int, events uint32) {
	c := r.conns[fd]
	if c == nil {
		return
	}
	if events&syscall.EPOLLOUT != 0 && len(c.out) > 0 && !r.flush(fd, c) {
		return
	}
	if events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 {
		return
	}
	n, err := rawRead(fd, r.buf)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil || n == 0 {
		if err != nil {
			r.failed++
		}
		r.drop(fd, nil)
		return
	}
	k, err := c.fr.feed(r.buf[:n])
	for ; k > 0; k-- {
		c.out = append(c.out, r.resp...)
	}
	if err != nil {
		r.drop(fd, &r.badFrames)
		return
	}
	if len(c.out) > 0 {
		r.flush(fd, c)
	}
}

// flush writes c's pending responses and waits for EPOLLOUT only while
// some remain; it reports whether the connection is still open.
func (r *responder) flush(fd int, c *rconn) bool {
	w, err := rawWrite(fd, c.out)
	if err != nil && err != syscall.EAGAIN && err != syscall.EINTR {
		r.drop(fd, &r.failed)
		return false
	}
	c.out = c.out[:copy(c.out, c.out[max(w, 0):])]
	if pending := len(c.out) > 0; pending != c.armed {
		c.armed = pending
		want := uint32(syscall.EPOLLIN)
		if pending {
			want |= syscall.EPOLLOUT
		}
		ev := syscall.EpollEvent{Events: want, Fd: int32(fd)}
		_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	}
	return true
}

func (r *responder) drop(fd int, counter *int) {
	if counter != nil {
		*counter++
	}
	_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	_ = syscall.Close(fd)
	r.conns[fd] = nil
}

// The responder's system calls bypass the Go scheduler's syscall hooks:
// with them, a thread blocked in epoll_wait keeps sysmon at its 20 µs tick
// and the runtime's wake-ups cost as much CPU as the requests (measured:
// 75 µs per paced request, half of it sysmon). Raw calls leave only the
// kernel's work, which is what the floor is meant to measure; a blocked
// epoll_wait still returns EINTR when the runtime preempts it.

func epollWait(epfd int, events []syscall.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), ^uintptr(0), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawRead(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}
