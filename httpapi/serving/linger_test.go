package serving

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// refusingServer answers every request with 413 without reading its body
// and closes the connection lingeringly.
func refusingServer(t *testing.T) string {
	t.Helper()
	s := New(&fasthttp.Server{
		StreamRequestBody: true,
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.Error("too large", http.StatusRequestEntityTooLarge)
			ctx.SetConnectionClose() // after Error, which resets the response
			LingerOnClose(ctx.Conn())
		},
	}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

const lingerHead = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

// TestLingeringCloseIsBounded: a client that never stops sending, and one
// that stops without closing, both get the answer and then see the server
// close within the linger bounds.
func TestLingeringCloseIsBounded(t *testing.T) {
	addr := refusingServer(t)
	const margin = 3 * time.Second // a loaded machine
	cases := map[string]func(c net.Conn){
		"endless sender": func(c net.Conn) {
			chunk := "4000\r\n" + strings.Repeat("x", 0x4000) + "\r\n"
			for {
				if _, err := io.WriteString(c, chunk); err != nil {
					return
				}
			}
		},
		"silent client": func(c net.Conn) { _, _ = io.WriteString(c, "10\r\n0123456789abcdef\r\n") },
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			_ = c.SetDeadline(start.Add(LingerTime + 2*margin))
			if _, err := io.WriteString(c, lingerHead); err != nil {
				t.Fatal(err)
			}
			sent := make(chan struct{})
			go func() { send(c); close(sent) }()
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("answer: %v %v", resp, err)
			}
			// After the answer the server's FIN: EOF, never a reset.
			if _, err := io.Copy(io.Discard, br); err != nil {
				t.Fatalf("after the answer: %v", err)
			}
			<-sent // the endless sender's writes fail once the server closes
			if name == "silent client" {
				requireClosedWhileSilent(t, c)
			}
			if d := time.Since(start); d > LingerTime+margin {
				t.Fatalf("closed after %v, want within %v", d, LingerTime)
			}
		})
	}
}

// requireClosedWhileSilent checks that the server gave up on a silent
// client after LingerTimeout, not LingerTime: a write after a pause
// between the two meets a closed socket (a reset), so a second one fails.
func requireClosedWhileSilent(t *testing.T, c net.Conn) {
	t.Helper()
	time.Sleep((LingerTimeout + LingerTime) / 2)
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, err = c.Write([]byte("1"))
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil {
		t.Fatalf("the server still reads a client silent for more than %v", LingerTimeout)
	}
}
