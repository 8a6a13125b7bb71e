package httpapi

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// Refusals sent before the request was read in full must reach the client:
// a server that closes with unread data in its receive buffer makes the
// kernel answer with a reset, which destroys the reply the client has not
// read yet. Each case is tried several times because it is a race.

const refusalAttempts = 6

// refusalLimit is the body limit of the refusal tests: small, so that each
// attempt sends a few MiB, not fifty.
const refusalLimit = 1 << 20

// rawExchange dials the server and writes head and then, when body is not
// nil, body in chunked encoding 64 KiB at a time, while reading the
// answer, like a client uploading a large body. Many clients (curl, Node,
// Python) give up on the request as soon as a write fails, without reading
// the reply already received, so a write that fails is an error too: the
// server must read, and discard, what the client still sends after the
// refusal.
func rawExchange(addr, head string, body []byte) exchange {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return exchange{readErr: err}
	}
	return exchangeOn(c, head, body)
}

// exchangeOn is rawExchange on the connection c, which it closes.
func exchangeOn(c net.Conn, head string, body []byte) exchange {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * waitFor))
	wrote := make(chan error, 1)
	go func() { wrote <- writeRequest(c, head, body) }()
	var x exchange
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		x.readErr = fmt.Errorf("reading the status line and headers: %w", err)
	} else {
		x.status = resp.StatusCode
		b, err := io.ReadAll(resp.Body)
		x.body = string(b)
		if err != nil {
			x.readErr = fmt.Errorf("reading the body: %w", err)
		}
	}
	_ = c.SetReadDeadline(time.Now()) // the answer is in: stop a writer stuck on a silent server
	if err := <-wrote; err != nil {
		x.writeErr = fmt.Errorf("sending the request: %w", err)
	}
	return x
}

// exchange is what a client of rawExchange saw.
type exchange struct {
	status            int
	body              string
	readErr, writeErr error
}

// writeRequest writes head, 16 KiB at a time with a pause between, as a
// request arrives from a slower network than the loopback; then body 64
// KiB at a time, in chunked encoding if head says so.
func writeRequest(c net.Conn, head string, body []byte) error {
	for off := 0; off < len(head); off += 16 << 10 {
		if off > 0 {
			time.Sleep(time.Millisecond)
		}
		if _, err := io.WriteString(c, head[off:min(off+16<<10, len(head))]); err != nil {
			return err
		}
	}
	if body == nil {
		return nil
	}
	chunked := strings.Contains(head, "Transfer-Encoding: chunked")
	const chunk = 64 << 10
	bw := bufio.NewWriterSize(c, chunk+16)
	for off := 0; off < len(body); off += chunk {
		p := body[off:min(off+chunk, len(body))]
		if chunked {
			fmt.Fprintf(bw, "%x\r\n", len(p))
		}
		_, _ = bw.Write(p)
		if chunked {
			_, _ = bw.WriteString("\r\n")
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	if chunked {
		_, _ = bw.WriteString("0\r\n\r\n")
	}
	return bw.Flush()
}

// requireRefusal checks the answer of one attempt: the whole request was
// sent, and the status and the JSON error body read in full.
func requireRefusal(t *testing.T, attempt int, x exchange, want int) {
	t.Helper()
	if x.writeErr != nil {
		t.Fatalf("attempt %d: %v (status %d, body %q)", attempt, x.writeErr, x.status, x.body)
	}
	requireAnswer(t, attempt, x, want)
}

// requireAnswer checks the status and the JSON error body of one attempt.
func requireAnswer(t *testing.T, attempt int, x exchange, want int) {
	t.Helper()
	if x.readErr != nil {
		t.Fatalf("attempt %d: %v (status %d, body %q)", attempt, x.readErr, x.status, x.body)
	}
	var e struct {
		Error string `json:"error"`
		Code  int    `json:"code"`
	}
	if x.status != want || decodeJSON([]byte(x.body), &e) != nil || e.Code != want || e.Error == "" {
		t.Fatalf("attempt %d: status %d body %q, want %d with the JSON error", attempt, x.status, x.body, want)
	}
}

func TestRefusalOfAGrowingChunkedBodyReachesTheClient(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.RequestLimitBytes = refusalLimit })
	data := strings.Repeat("x", 5*refusalLimit)
	body := []byte(`{"name":"big","channel":"c","data":"` + data + `"}`)
	path := "/apps/1/events"
	query := protocol.SignRequest(http.MethodPost, path, nil, body, testKey, testSecret, time.Now())
	head := "POST " + path + "?" + query + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n"
	for i := range refusalAttempts {
		requireRefusal(t, i, rawExchange(ts.addr, head, body), http.StatusRequestEntityTooLarge)
	}
	requireStatus(t, ts.post(t, "/events", `{"name":"small","channel":"c","data":"still served"}`), http.StatusOK)
}

// TestRefusalOfOtherEarlyRefusalsReachesTheClient: a Content-Length over
// the limit and a malformed header, each followed by a body the server
// never reads.
func TestRefusalOfOtherEarlyRefusalsReachesTheClient(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.RequestLimitBytes = refusalLimit })
	body := []byte(`{"name":"big","channel":"c","data":"` + strings.Repeat("x", 3*refusalLimit) + `"}`)
	path := "/apps/1/events"
	query := protocol.SignRequest(http.MethodPost, path, nil, body, testKey, testSecret, time.Now())
	request := "POST " + path + "?" + query + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	length := "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	for _, tc := range []struct {
		name, head string
		want       int
	}{
		{"Content-Length over the limit", request + length + "\r\n", http.StatusRequestEntityTooLarge},
		{"malformed header", request + "No colon here\r\n" + length + "\r\n", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range refusalAttempts {
				requireRefusal(t, i, rawExchange(ts.addr, tc.head, body), tc.want)
			}
		})
	}
}

func TestRefusalOfTenThousandQueryParamsReachesTheClient(t *testing.T) {
	ts := startServer(t, nil)
	path := "/apps/1/channels"
	params := make(map[string]string, 10_000)
	for i := range 10_000 {
		params[fmt.Sprintf("param%05d", i)] = fmt.Sprintf("value%05d", i)
	}
	query := protocol.SignRequest(http.MethodGet, path, params, nil, testKey, testSecret, time.Now())
	head := "GET " + path + "?" + query + " HTTP/1.1\r\nHost: x\r\n\r\n"
	for i := range refusalAttempts {
		requireRefusal(t, i, rawExchange(ts.addr, head, nil), http.StatusRequestHeaderFieldsTooLarge)
	}
}

// TestRefusedChunkedBodyMemory: refusing a 50 MiB chunked body against a
// 10 MiB limit allocates the limit plus a small constant, and the heap is
// back where it was once the request is over.
func TestRefusedChunkedBodyMemory(t *testing.T) {
	const limit = 10 << 20
	const slack = 2 << 20
	ts := startServer(t, func(o *Options) { o.RequestLimitBytes = limit })
	body := []byte(`{"name":"big","channel":"c","data":"` + strings.Repeat("x", 50<<20) + `"}`)
	path := "/apps/1/events"
	query := protocol.SignRequest(http.MethodPost, path, nil, body, testKey, testSecret, time.Now())
	head := "POST " + path + "?" + query + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n"
	// A first request warms up the server's pools and workers.
	requireStatus(t, ts.post(t, "/events", `{"name":"small","channel":"c","data":"warm"}`), http.StatusOK)

	var before, during, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Only the memory matters here: whether the client could send all of
	// its body is the business of the tests above.
	requireAnswer(t, 0, rawExchange(ts.addr, head, body), http.StatusRequestEntityTooLarge)
	runtime.ReadMemStats(&during)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(body)

	allocated := during.TotalAlloc - before.TotalAlloc
	t.Logf("limit %d MiB: %.1f MiB allocated for the refused request; heap in use %.1f → %.1f MiB",
		limit>>20, float64(allocated)/(1<<20), float64(before.HeapInuse)/(1<<20), float64(after.HeapInuse)/(1<<20))
	if allocated > limit+slack {
		t.Fatalf("%d bytes allocated, want at most the limit %d + %d", allocated, limit, slack)
	}
	if after.HeapInuse > before.HeapInuse+slack {
		t.Fatalf("heap in use %d after the request, %d before", after.HeapInuse, before.HeapInuse)
	}
}

// TestRefusalOverTLSReachesTheClient: the lingering close works beneath
// TLS too.
func TestRefusalOverTLSReachesTheClient(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := writeCert(t, certPath, keyPath, 1)
	certs, err := NewCertReloader(certPath, keyPath, "")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(o *Options) {
		o.TLS = certs.TLSConfig()
		o.RequestLimitBytes = refusalLimit
	})
	body := []byte(`{"name":"big","channel":"c","data":"` + strings.Repeat("x", 5*refusalLimit) + `"}`)
	head := "POST /apps/1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	for i := range refusalAttempts {
		c, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		requireRefusal(t, i, exchangeOn(c, head, body), http.StatusRequestEntityTooLarge)
	}
}
