package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

func TestReadChunkedAroundBlocksAndLimit(t *testing.T) {
	const limit = 3*maxBodyBlock + 100
	for _, n := range []int{0, 1, firstBodyBlock - 1, firstBodyBlock, firstBodyBlock + 1,
		3 * firstBodyBlock, maxBodyBlock + 7, limit - 1, limit, limit + 1, 2 * limit} {
		src := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		// OneByteReader and HalfReader make the reads as short as the
		// stream's at chunk boundaries can be.
		for name, r := range map[string]io.Reader{
			"whole": bytes.NewReader(src), "half": iotest.HalfReader(bytes.NewReader(src)),
			"bytes": iotest.OneByteReader(bytes.NewReader(src[:min(n, 10_000)]))} {
			want := src
			if name == "bytes" {
				want = src[:min(n, 10_000)]
			}
			got, err := readChunked(r, limit)
			switch {
			case len(want) > limit:
				if !errors.Is(err, errBodyTooLarge) {
					t.Fatalf("%d bytes (%s): %v, want errBodyTooLarge", n, name, err)
				}
			case err != nil || !bytes.Equal(got, want):
				t.Fatalf("%d bytes (%s): %d bytes back, %v", n, name, len(got), err)
			}
		}
	}
	if _, err := readChunked(iotest.ErrReader(io.ErrUnexpectedEOF), limit); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated body: %v", err)
	}
}

// warnings records the server's log at warning level and above.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// TestChunkedBodiesServed: chunked bodies within the limit are served, on
// a connection that stays open for the next request, and a malformed one
// is refused with 400; fasthttp never warns that a streamed body was read
// whole behind the limit's back.
func TestChunkedBodiesServed(t *testing.T) {
	var logged warnings
	ts := startServer(t, func(o *Options) {
		o.RequestLimitBytes = 64 << 10
		o.Logger = slog.New(&logged)
	})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, data := range []string{"small", strings.Repeat("y", 4090), strings.Repeat("z", 10_000)} {
		body := []byte(`{"name":"e","channel":"c","data":"` + data + `"}`)
		path := "/apps/1/events"
		query := protocol.SignRequest(http.MethodPost, path, nil, body, testKey, testSecret, time.Now())
		head := "POST " + path + "?" + query + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n"
		_ = c.SetDeadline(time.Now().Add(waitFor))
		if err := writeRequest(c, head, body); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%d bytes: %v", len(body), err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("%d bytes: %d %s (close %v)", len(body), resp.StatusCode, b, resp.Close)
		}
	}
	head := "POST /apps/1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	x := rawExchange(ts.addr, head+"zz\r\nnot hex\r\n", nil)
	requireAnswer(t, 0, x, http.StatusBadRequest)
	logged.mu.Lock()
	defer logged.mu.Unlock()
	for _, m := range logged.msgs {
		if strings.Contains(m, "Body()") {
			t.Fatalf("fasthttp warned: %s", m)
		}
	}
}
