package v2client

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/wire"
)

// SourceIPs returns the source address of client i: base + (i % n), so a
// run of many clients spreads over n loopback addresses (each has only
// ~28k ephemeral ports towards one server port).
func SourceIPs(base net.IP, n int) func(i int) net.IP {
	b := base.To4()
	return func(i int) net.IP {
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		v += uint32(i % n)
		return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
}

// Dial connects to host from src (nil: the kernel's choice).
func Dial(host string, src net.IP) (net.Conn, error) {
	var la net.Addr
	if src != nil {
		la = &net.TCPAddr{IP: src}
	}
	d := net.Dialer{LocalAddr: la, Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", host)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return nc, nil
}

// ReadFrames hands every server frame on nc to onFrame (wireLen is its
// size with the header) until the socket ends or onFrame fails. pend holds
// what was already read (Upgrade's leftover); its capacity is the first
// read buffer, doubled when short. pause, when not nil, runs before each
// read (a loader that reads lazily).
func ReadFrames(nc net.Conn, pend []byte, onFrame func(op byte, payload []byte, wireLen int) error, pause func()) error {
	for {
		off := 0
		for {
			op, pl, k, err := wire.NextFrame(pend[off:])
			if err != nil {
				return err
			}
			if k == 0 {
				break
			}
			off += k
			if err := onFrame(op, pl, k); err != nil {
				return err
			}
		}
		pend = append(pend[:0], pend[off:]...)
		if pause != nil {
			pause()
		}
		if cap(pend)-len(pend) < 4096 {
			pend = append(make([]byte, 0, 2*cap(pend)), pend...)
		}
		n, err := nc.Read(pend[len(pend):cap(pend)])
		if err != nil {
			return err
		}
		pend = pend[:len(pend)+n]
	}
}

// ConnectAll starts n clients with at most 64 handshakes in flight, as
// loadgen's dialers, and waits up to 30 s in all for them to be ready.
// start(i) creates client i and returns its run loop (run on its own
// goroutine, counted in wg) and the channel closed once it is ready.
// It returns how many clients became ready.
func ConnectAll(n int, wg *sync.WaitGroup, start func(i int) (run func(), ready <-chan struct{})) int {
	readies := make([]<-chan struct{}, n)
	sem := make(chan struct{}, 64)
	for i := range n {
		run, ready := start(i)
		readies[i] = ready
		sem <- struct{}{}
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
		go func() {
			select {
			case <-ready:
			case <-time.After(30 * time.Second):
			}
			<-sem
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	got := 0
	for _, ready := range readies {
		select {
		case <-ready:
			got++
		case <-time.After(time.Until(deadline)):
		}
	}
	return got
}
