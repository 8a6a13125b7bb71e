package expose

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// staticApps is an AppStore over a fixed list.
type staticApps []*engine.App

func (s staticApps) AppByKey(k string) (*engine.App, error) {
	for _, a := range s {
		if a.Key == k {
			return a, nil
		}
	}
	return nil, engine.ErrAppNotFound
}

func (s staticApps) AppByID(id string) (*engine.App, error) {
	for _, a := range s {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, engine.ErrAppNotFound
}

var testApps = staticApps{
	{ID: "app-1", Key: "key-1", Secret: "secret-1", Enabled: true},
	{ID: "app-2", Key: "key-2", Secret: "secret-2", Enabled: true},
}

// node is an engine with a metrics Server attached, the way cmd wires
// them: the Server is built first and is the engine's Observer.
type node struct {
	eng *engine.Engine
	srv *Server
	url string // base URL of the metrics listener, "" when not serving
}

func newNode(t *testing.T, opts Options, serve bool) *node {
	t.Helper()
	if opts.AppIDs == nil {
		opts.AppIDs = []string{"app-1", "app-2"}
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Apps: testApps, Shards: 2, Observer: srv})
	if err != nil {
		t.Fatal(err)
	}
	srv.Attach(eng)
	t.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
	n := &node{eng: eng, srv: srv}
	if serve {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		t.Cleanup(func() {
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
		n.url = "http://" + ln.Addr().String()
	}
	return n
}

// scrape renders the metrics through the handler, as a GET would.
func (n *node) scrape(t *testing.T) string {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/metrics")
	n.srv.Handler()(&ctx)
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("GET /metrics: %d", ctx.Response.StatusCode())
	}
	return string(ctx.Response.Body())
}

// samples parses a scrape into series → value.
func samples(t *testing.T, text string) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		m[line[:i]] = v
	}
	return m
}

// waitFor polls fn until it returns nil or the deadline passes.
func waitFor(t *testing.T, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sink is a Transport that accepts every write.
type sink struct {
	mu  sync.Mutex
	out bytes.Buffer
}

func (s *sink) TryWrite(bufs [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range bufs {
		s.out.Write(b)
		n += len(b)
	}
	return n, nil
}

func (s *sink) Write(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out.Write(p)
	return nil
}

func (s *sink) Close() error { return nil }

// traffic drives the engine the way WebSocket clients would: clients
// connect to app-1, subscribe to a public and a presence-less channel,
// ping, and an HTTP publish reaches them. One connection to an unknown
// key is refused. It returns the open connections.
func traffic(t *testing.T, e *engine.Engine, clients int) []*engine.Conn {
	t.Helper()
	app, _ := testApps.AppByID("app-1")
	var conns []*engine.Conn
	for i := 0; i < clients; i++ {
		c, err := e.Connect(engine.ConnectRequest{AppKey: "key-1", Protocol: "7"}, &sink{})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Feed(clientFrame(`{"event":"pusher:subscribe","data":{"channel":"news"}}`))
		_ = c.Feed(clientFrame(`{"event":"pusher:ping","data":{}}`))
		conns = append(conns, c)
	}
	if _, err := e.Connect(engine.ConnectRequest{AppKey: "nope", Protocol: "7"}, &sink{}); err == nil {
		t.Fatal("unknown key accepted")
	}
	waitFor(t, 2*time.Second, func() error {
		if ch, _ := e.Channel(context.Background(), app, "news"); ch.SubscriptionCount != clients {
			return fmt.Errorf("news has %d subscribers, want %d", ch.SubscriptionCount, clients)
		}
		return nil
	})
	if err := e.Publish(context.Background(), app, &engine.Event{Name: "update", Data: `{"n":1}`, Channels: []string{"news"}}); err != nil {
		t.Fatal(err)
	}
	return conns
}

// clientFrame is a masked WebSocket text frame, as clients send.
func clientFrame(s string) []byte {
	return protocol.AppendClientFrame(nil, protocol.OpText, []byte(s), [4]byte{7, 1, 9, 3})
}
