// Package bustest is the conformance suite of engine.Bus adapters: every
// adapter runs it against a real backend.
package bustest

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// Env is one backend under test.
type Env struct {
	// New returns a fresh, unstarted bus on the backend.
	New func(t *testing.T) engine.Bus
	// Outage stops the backend; Restore starts it again at the same address.
	Outage, Restore func(t *testing.T)
}

// Recorder is a BusHandler that keeps what it is given.
type Recorder struct {
	mu         sync.Mutex
	msgs       []string
	ups, downs atomic.Int32
	inFlight   atomic.Int32
	concurrent atomic.Bool
}

// Message records msg and notes any concurrent call.
func (r *Recorder) Message(msg []byte) {
	if r.inFlight.Add(1) > 1 {
		r.concurrent.Store(true)
	}
	r.mu.Lock()
	r.msgs = append(r.msgs, string(msg))
	r.mu.Unlock()
	r.inFlight.Add(-1)
}

// Up counts connections.
func (r *Recorder) Up() { r.ups.Add(1) }

// Down counts disconnections.
func (r *Recorder) Down(error) { r.downs.Add(1) }

// Count is how many messages arrived.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// Messages returns a copy of what arrived.
func (r *Recorder) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// WaitFor polls cond until a deadline.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, env Env, id string) (engine.Bus, *Recorder) {
	t.Helper()
	b, r := env.New(t), &Recorder{}
	if err := b.Start(id, r); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if r.ups.Load() != 1 {
		t.Fatalf("Up called %d times by Start, want 1", r.ups.Load())
	}
	return b, r
}

// Run runs every conformance test.
func Run(t *testing.T, env Env) {
	t.Run("routing", func(t *testing.T) { routing(t, env) })
	t.Run("order", func(t *testing.T) { order(t, env) })
	t.Run("outage", func(t *testing.T) { outage(t, env) })
	t.Run("close", func(t *testing.T) { closing(t, env) })
}

// closing: what a node sent before Close arrives, in order: its goodbye is
// the last thing it sends, right before it closes the bus.
func closing(t *testing.T, env Env) {
	a, _ := start(t, env, "close-a")
	_, rb := start(t, env, "close-b")
	const n = 2000
	for i := 0; i < n; i++ {
		if err := a.Publish([]byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "everything sent before Close", func() bool { return len(rb.Messages()) >= n })
	for i, m := range rb.Messages()[:n] {
		if m != strconv.Itoa(i) {
			t.Fatalf("message %d is %q: order broken", i, m)
		}
	}
}

// routing: Publish reaches every other node and not the sender; Send only
// its target.
func routing(t *testing.T, env Env) {
	a, ra := start(t, env, "node-a")
	_, rb := start(t, env, "node-b")
	_, rc := start(t, env, "node-c")
	if err := a.Publish([]byte("all")); err != nil {
		t.Fatal(err)
	}
	if err := a.Send("node-c", []byte("c only")); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "delivery", func() bool { return len(rb.Messages()) == 1 && len(rc.Messages()) == 2 })
	if got := rb.Messages(); got[0] != "all" {
		t.Fatalf("b got %q", got)
	}
	if got := rc.Messages(); got[0] != "all" || got[1] != "c only" {
		t.Fatalf("c got %q", got)
	}
	time.Sleep(50 * time.Millisecond) // absence is observed over time
	if got := ra.Messages(); len(got) != 0 {
		t.Fatalf("the sender received its own messages: %q", got)
	}
	if got := rb.Messages(); len(got) != 1 {
		t.Fatalf("b received a message sent to c: %q", got)
	}
}

// order: a node's interleaved Publish and Send arrive in the order sent,
// one call at a time.
func order(t *testing.T, env Env) {
	a, _ := start(t, env, "order-a")
	_, rb := start(t, env, "order-b")
	const n = 1000
	var want []string
	for i := 0; i < n; i++ {
		msg := []byte(strconv.Itoa(i))
		var err error
		if i%3 == 0 {
			err = a.Send("order-b", msg)
		} else {
			err = a.Publish(msg)
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(msg))
	}
	WaitFor(t, "all messages", func() bool { return len(rb.Messages()) >= n })
	got := rb.Messages()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d is %q, want %q: order broken", i, got[i], want[i])
		}
	}
	if rb.concurrent.Load() {
		t.Fatal("the handler was called concurrently")
	}
}

// outage: losing the backend calls Down and makes Publish fail fast;
// getting it back calls Up and traffic flows again.
func outage(t *testing.T, env Env) {
	a, ra := start(t, env, "out-a")
	_, rb := start(t, env, "out-b")
	env.Outage(t)
	WaitFor(t, "Down", func() bool { return ra.downs.Load() > 0 && rb.downs.Load() > 0 })
	began := time.Now()
	if err := a.Publish([]byte("lost")); err == nil {
		t.Log("publish during the outage reported no error (the client buffered it)")
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Fatalf("publish during the outage took %v", d)
	}
	env.Restore(t)
	WaitFor(t, "Up again", func() bool { return ra.ups.Load() > 1 && rb.ups.Load() > 1 })
	WaitFor(t, "traffic after the outage", func() bool {
		_ = a.Publish([]byte("back"))
		for _, m := range rb.Messages() {
			if bytes.Equal([]byte(m), []byte("back")) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
		return false
	})
}
