package v2client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/v2client/v2test"
)

func TestTracker(t *testing.T) {
	tr := NewTracker(10)
	for _, s := range []uint64{11, 13, 12, 13, 9, 15} {
		tr.Add(s)
	}
	if tr.Duplicates() != 1 || tr.Below() != 1 || tr.Distinct() != 4 || tr.Max() != 15 {
		t.Fatalf("dups %d below %d distinct %d max %d", tr.Duplicates(), tr.Below(), tr.Distinct(), tr.Max())
	}
	if tr.Contiguous() {
		t.Fatal("14 is missing, yet contiguous")
	}
	if m := tr.Missing(16); m != 2 { // 14 and 16
		t.Fatalf("missing up to 16 = %d, want 2", m)
	}
	tr.Add(14)
	if !tr.Contiguous() || tr.Missing(15) != 0 {
		t.Fatalf("after 14: contiguous %v missing %d", tr.Contiguous(), tr.Missing(15))
	}
	// Serials far beyond the first word of the bit set.
	tr2 := NewTracker(0)
	for s := uint64(1); s <= 1000; s++ {
		tr2.Add(s)
	}
	if !tr2.Contiguous() || tr2.Missing(1000) != 0 || tr2.Missing(1002) != 2 {
		t.Fatalf("1..1000: contiguous %v missing %d/%d", tr2.Contiguous(), tr2.Missing(1000), tr2.Missing(1002))
	}
}

func TestSerialForms(t *testing.T) {
	for in, want := range map[string]Serial{
		`{"serial":42}`:                     {42, true},
		`{"serial":"18446744073709551615"}`: {18446744073709551615, true},
		`{"serial":null}`:                   {},
		`{}`:                                {},
	} {
		f, err := ParseFrame([]byte(in))
		if err != nil || f.Serial != want {
			t.Errorf("%s: %+v %v, want %+v", in, f.Serial, err, want)
		}
	}
	if _, err := ParseFrame([]byte(`{"serial":"x"}`)); err == nil {
		t.Error("a non-numeric serial was accepted")
	}
}

// TestResumeMessageShape: data is a JSON string holding channel_positions,
// as the official client sends it.
func TestResumeMessageShape(t *testing.T) {
	m := ResumeMessage(map[string]Position{"bench-1": {StreamID: "s-1", Serial: 7, LastMessageID: "m-7"}})
	var outer struct {
		Event string `json:"event"`
		Data  string `json:"data"`
	}
	if err := json.Unmarshal(m, &outer); err != nil || outer.Event != "sockudo:resume" {
		t.Fatalf("%s: %v", m, err)
	}
	want := `{"channel_positions":{"bench-1":{"stream_id":"s-1","serial":7,"last_message_id":"m-7"}}}`
	if outer.Data != want {
		t.Fatalf("data %s, want %s", outer.Data, want)
	}
}

func TestRecentIDsForgetsOldest(t *testing.T) {
	r := newRecentIDs(2)
	for _, id := range []string{"a", "b", "c"} {
		if r.seen(id) {
			t.Fatalf("%s seen before it was added", id)
		}
	}
	if r.seen("a") {
		t.Fatal("a should have been forgotten (capacity 2)")
	}
	if !r.seen("c") {
		t.Fatal("c forgotten too early")
	}
}

// accept is the scripted server's side of the next connection.
func accept(t *testing.T, ln net.Listener) *v2test.Conn {
	return v2test.Accept(t, ln, "/app/k?protocol=2&", `{"event":"sockudo:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":120}","message_id":"h"}`)
}

func msg(serial int, id string) string {
	return fmt.Sprintf(`{"event":"ev","channel":"ch","data":"x","message_id":%q,"stream_id":"S","serial":%d}`, id, serial)
}

// TestDropResubscribeResume walks the official client's flow against a
// scripted server: subscribe, messages, an abrupt drop, then on the new
// connection sockudo:subscribe followed by sockudo:resume with the last
// position; a live message before the replay, the replay, a duplicate
// the server should not have sent, and resume_success.
func TestDropResubscribeResume(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := New(&Config{Host: ln.Addr().String(), Key: "k", Event: "ev"}, 0, "ch")
	done := make(chan struct{})
	go func() { defer close(done); c.Run() }()
	defer func() { c.Close(); <-done }()

	s1 := accept(t, ln)
	if got := s1.Recv(); got != `{"data":{"auth":"","channel":"ch"},"event":"sockudo:subscribe"}` {
		t.Fatalf("first frame %s", got)
	}
	s1.Send(`{"event":"sockudo_internal:subscription_succeeded","channel":"ch","data":"{}","message_id":"s1","stream_id":"S","serial":0}`)
	<-c.Subscribed()
	for i := 1; i <= 3; i++ {
		s1.Send(msg(i, fmt.Sprint("m", i)))
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.MaxSerial() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	hold := make(chan struct{})
	c.Drop(hold)
	c.SetTarget(4) // serial 4 was published while the socket was down
	close(hold)

	s2 := accept(t, ln)
	if got := s2.Recv(); !strings.Contains(got, `"event":"sockudo:subscribe"`) {
		t.Fatalf("after reconnect the first frame is %s, want sockudo:subscribe", got)
	}
	want := `{"data":"{\"channel_positions\":{\"ch\":{\"stream_id\":\"S\",\"serial\":3,\"last_message_id\":\"m3\"}}}","event":"sockudo:resume"}`
	if got := s2.Recv(); got != want {
		t.Fatalf("resume frame\n got %s\nwant %s", got, want)
	}
	s2.Send(`{"event":"sockudo_internal:subscription_succeeded","channel":"ch","data":"{}","message_id":"s2","stream_id":"S","serial":4}`)
	s2.Send(msg(5, "m5")) // live, before the replay
	s2.Send(msg(4, "m4")) // replayed
	s2.Send(msg(4, "m4")) // a duplicate: counted raw, dropped by the dedup
	s2.Send(`{"event":"sockudo:resume_success","data":"{\"recovered\":[{\"channel\":\"ch\",\"source\":\"hot\",\"replayed\":1,\"position\":{\"stream_id\":\"S\",\"serial\":4,\"last_message_id\":\"m4\"}}],\"failed\":[]}","message_id":"r"}`)
	for time.Now().Before(deadline) {
		if _, _, k := c.Times(); k != 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	rec, res, caught := c.Times()
	if rec == 0 || res == 0 || caught == 0 || caught < res {
		t.Fatalf("times: reconnected %d resumed %d caught %d", rec, res, caught)
	}
	c.Close()
	<-done
	st := c.Stats()
	if st.Connections != 2 || st.Recovered != 1 || st.Replayed != 1 || st.Duplicates != 1 || st.DedupDropped != 1 ||
		st.Messages != 6 || st.Missing(5) != 0 || st.Missing(6) != 1 || len(st.Failed) != 0 {
		t.Fatalf("stats %+v (missing(5) %d)", st, st.Missing(5))
	}
}

// TestResumeFailedIsRecorded: a resume_failed (channel inside data, as
// this server and the official client agree) counts as a failure.
func TestResumeFailedIsRecorded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := New(&Config{Host: ln.Addr().String(), Key: "k", Event: "ev"}, 0, "ch")
	done := make(chan struct{})
	go func() { defer close(done); c.Run() }()
	s1 := accept(t, ln)
	s1.Recv()
	s1.Send(`{"event":"sockudo_internal:subscription_succeeded","channel":"ch","data":"{}","stream_id":"S","serial":0}`)
	s1.Send(msg(1, "m1"))
	for start := time.Now(); c.MaxSerial() < 1; time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("message 1 never arrived")
		}
	}
	hold := make(chan struct{})
	c.Drop(hold)
	c.SetTarget(2)
	close(hold)
	s2 := accept(t, ln)
	s2.Recv()
	if got := s2.Recv(); !bytes.Contains([]byte(got), []byte("sockudo:resume")) {
		t.Fatalf("want a resume, got %s", got)
	}
	s2.Send(`{"event":"sockudo:resume_failed","channel":"ch","data":"{\"channel\":\"ch\",\"code\":\"stream_reset\",\"reason\":\"stream_id_mismatch\"}"}`)
	s2.Send(`{"event":"sockudo:resume_success","data":"{\"recovered\":[],\"failed\":[{\"channel\":\"ch\",\"code\":\"stream_reset\",\"reason\":\"stream_id_mismatch\"}]}"}`)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, r, _ := c.Times(); r != 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
	<-done
	st := c.Stats()
	if st.Recovered != 0 || len(st.Failed) != 2 || st.Failed[0].Code != "stream_reset" {
		t.Fatalf("stats %+v", st)
	}
}
