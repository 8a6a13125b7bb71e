package tickerdelta

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/centrifugal/fdelta"
	"github.com/sockudo/sockudo-go/bench/internal/v2client/v2test"
)

// TestQuotesChangeTwoFieldsOfTwenty: the payload is issue 13's typical
// ticker, and the same seed gives the same sequence (the clients check
// against their own copy).
func TestQuotesChangeTwoFieldsOfTwenty(t *testing.T) {
	q := Quotes(50, 7)
	if again := Quotes(50, 7); strings.Join(again, "") != strings.Join(q, "") {
		t.Fatal("same seed, different payloads")
	}
	prev := map[string]json.RawMessage{}
	for k, s := range q {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &m); err != nil || len(m) != 20 {
			t.Fatalf("payload %d: %d fields, %v: %s", k, len(m), err, s)
		}
		if k > 0 {
			changed := 0
			for f, v := range m {
				if string(prev[f]) != string(v) {
					changed++
				}
			}
			if changed != 2 {
				t.Fatalf("payload %d changes %d fields, want 2", k, changed)
			}
		}
		prev = m
	}
}

// accept is the scripted server's side of the next connection.
func accept(t *testing.T, ln net.Listener) *v2test.Conn {
	return v2test.Accept(t, ln, "?protocol=2&", `{"event":"sockudo:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}"}`)
}

func frame(data string) string {
	return `{"event":"quote","channel":"ticker","data":` + jsonString(data) + `}`
}

// full is frame with the delta path's trailing sequence marker.
func full(data string, seq int) string {
	f := frame(data)
	return fmt.Sprintf(`%s,"__delta_seq":%d}`, f[:len(f)-1], seq)
}

func deltaFrame(base, target string, seq int) string {
	d := base64.StdEncoding.EncodeToString(fdelta.Create([]byte(base), []byte(target)))
	return fmt.Sprintf(`{"event":"sockudo:delta","channel":"ticker","data":{"event":"quote","delta":%q,"seq":%d,"base_index":%d}}`, d, seq, seq-1)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestClientReconstructsAndCountsTheWindow walks the official client's
// negotiation against a scripted server: subscribe, then
// enable_delta_compression; full frames and fossil deltas are
// reconstructed and checked; a delta that reconstructs to the wrong
// payload is caught; bytes and frames count only after the warm-up.
func TestClientReconstructsAndCountsTheWindow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := Quotes(4, 3)
	sh := newShared(ln.Addr().String(), "k", "ticker", "quote", true, want, 1)
	c := newClient(sh, 0)
	done := make(chan struct{})
	go func() { defer close(done); c.run() }()
	s := accept(t, ln)
	if m := s.Recv(); !strings.Contains(m, `"event":"sockudo:subscribe"`) || !strings.Contains(m, `"channel":"ticker"`) {
		t.Fatalf("first client frame %s, want the subscription", m)
	}
	if m := s.Recv(); !strings.Contains(m, `"event":"sockudo:enable_delta_compression"`) {
		t.Fatalf("second client frame %s, want enable_delta_compression", m)
	}
	s.Send(`{"event":"sockudo_internal:subscription_succeeded","channel":"ticker","data":"{}"}`)
	select {
	case <-c.ready:
		t.Fatal("ready before deltas were confirmed")
	case <-time.After(20 * time.Millisecond):
	}
	s.Send(`{"event":"sockudo:delta_compression_enabled","data":{"enabled":true,"algorithm":"fossil"}}`)
	<-c.ready

	s.Send(full(want[0], 0)) // warm-up: not counted
	wire := s.Send(full(want[1], 1))
	wire += s.Send(deltaFrame(frame(want[1]), frame(want[2]), 2))
	// reconstructs cleanly, but to message 0's payload, not message 3's
	wire += s.Send(deltaFrame(frame(want[2]), frame(want[0]), 3))
	waitFor(t, "4 messages", func() bool { return c.n.got.Load() == 4 })
	if e := c.n.exact.Load(); e != 3 {
		t.Errorf("exact %d, want 3 (message 3 differs)", e)
	}
	if f, d := c.n.fulls.Load(), c.n.deltas.Load(); f != 1 || d != 2 {
		t.Errorf("window frames: full %d delta %d, want 1 and 2", f, d)
	}
	if w := c.n.wireBytes.Load(); w != int64(wire) {
		t.Errorf("window wire bytes %d, want %d", w, wire)
	}
	c.mu.Lock()
	errs := strings.Join(c.errs, "\n")
	c.mu.Unlock()
	if !strings.Contains(errs, "message 3 differs") {
		t.Errorf("errors %q: the wrong payload was not reported", errs)
	}

	c.close()
	<-done
}

// TestClientCountsADeltaItCannotApply: a delta before any full frame is
// one the official client drops (it holds no state for the channel); the
// run counts the message as received but not reconstructed.
func TestClientCountsADeltaItCannotApply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := Quotes(2, 3)
	sh := newShared(ln.Addr().String(), "k", "ticker", "quote", true, want, 0)
	c := newClient(sh, 0)
	done := make(chan struct{})
	go func() { defer close(done); c.run() }()
	s := accept(t, ln)
	s.Recv()
	s.Recv()
	s.Send(`{"event":"sockudo_internal:subscription_succeeded","channel":"ticker","data":"{}"}`)
	s.Send(`{"event":"sockudo:delta_compression_enabled","data":{"enabled":true,"algorithm":"fossil"}}`)
	<-c.ready
	s.Send(deltaFrame(frame(want[0]), frame(want[1]), 1))
	waitFor(t, "the message counted", func() bool { return c.n.got.Load() == 1 })
	if e := c.n.exact.Load(); e != 0 {
		t.Fatalf("exact %d: a delta without a base cannot be reconstructed", e)
	}
	c.mu.Lock()
	errs := strings.Join(c.errs, "\n")
	c.mu.Unlock()
	if !strings.Contains(errs, "message 0 not reconstructed") {
		t.Fatalf("errors %q: the loss was not reported", errs)
	}
	c.close()
	<-done
}
