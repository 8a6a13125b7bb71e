// Package v2test is the scripted server side of a V2 WebSocket connection,
// for the tests of the loader's clients (v2client, tickerdelta): enough
// of RFC 6455 to accept one upgrade, write unmasked text frames and read
// masked client frames.
package v2test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Conn is the server side of one test connection.
type Conn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// Accept takes the next connection on ln, checks that its request line
// contains wantInRequest (the client under test asked for V2), answers
// 101 and sends established, the connection_established frame.
func Accept(t testing.TB, ln net.Listener, wantInRequest, established string) *Conn {
	t.Helper()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	s := &Conn{t: t, c: c, br: bufio.NewReader(c)}
	if line, _ := s.br.ReadString('\n'); !strings.Contains(line, wantInRequest) {
		t.Errorf("request line %q: want %s…", line, wantInRequest)
	}
	for {
		if l, err := s.br.ReadString('\n'); err != nil || l == "\r\n" {
			break
		}
	}
	fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	s.Send(established)
	return s
}

// Send writes one unmasked text frame and returns its size on the wire.
func (s *Conn) Send(p string) int {
	b := []byte{0x81}
	if len(p) < 126 {
		b = append(b, byte(len(p)))
	} else {
		b = append(b, 126, byte(len(p)>>8), byte(len(p)))
	}
	b = append(b, p...)
	if _, err := s.c.Write(b); err != nil {
		s.t.Errorf("server write: %v", err)
	}
	return len(b)
}

// Recv reads one masked client text frame.
func (s *Conn) Recv() string {
	h := make([]byte, 2)
	if _, err := io.ReadFull(s.br, h); err != nil {
		s.t.Fatalf("server read: %v", err)
	}
	n := int(h[1] & 0x7F)
	if n == 126 {
		var l [2]byte
		_, _ = io.ReadFull(s.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	var mask [4]byte
	_, _ = io.ReadFull(s.br, mask[:])
	p := make([]byte, n)
	_, _ = io.ReadFull(s.br, p)
	for i := range p {
		p[i] ^= mask[i%4]
	}
	return string(p)
}
