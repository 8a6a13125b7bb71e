package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine/recovery"
	"github.com/sockudo/sockudo-go/protocol"
)

// sharedStore is one durable history store several engines of a test
// share, kept in memory (engine/history cannot be imported here: it
// imports engine). down makes every call fail, as a store that is
// unreachable; stall makes reservations wait out their deadline, as a
// store that is slow. Real stores are exercised by cmd/sockudo's cluster test
// against PostgreSQL.
type sharedStore struct {
	mu      sync.Mutex
	streams map[[2]string]*sharedStream
	down    atomic.Bool
	stall   atomic.Bool
}

type sharedStream struct {
	id       string
	next     uint64
	entries  []HistoryEntry
	degraded string
}

var errStoreDown = errors.New("store down")

func newSharedStore() *sharedStore { return &sharedStore{streams: map[[2]string]*sharedStream{}} }

func (s *sharedStore) lock() (func(), error) {
	if s.down.Load() {
		return nil, errStoreDown
	}
	s.mu.Lock()
	return s.mu.Unlock, nil
}

func (s *sharedStore) stream(app, channel string) *sharedStream {
	st := s.streams[[2]string{app, channel}]
	if st == nil {
		st = &sharedStream{id: protocol.NewMessageID(), next: 1}
		s.streams[[2]string{app, channel}] = st
	}
	return st
}

func (s *sharedStore) Reserve(ctx context.Context, app, channel string, n int) (string, uint64, error) {
	if s.stall.Load() {
		<-ctx.Done()
		return "", 0, ctx.Err()
	}
	unlock, err := s.lock()
	if err != nil {
		return "", 0, err
	}
	defer unlock()
	st := s.stream(app, channel)
	first := st.next
	st.next += uint64(max(n, 1))
	return st.id, first, nil
}

func (s *sharedStore) Release(_ context.Context, app, channel, id string, next, end uint64) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if st := s.streams[[2]string{app, channel}]; st != nil && st.id == id && st.next == end && next < end {
		st.next = next
	}
	return nil
}

func (s *sharedStore) Append(_ context.Context, entries []HistoryEntry) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	for _, e := range entries {
		if st := s.streams[[2]string{e.App, e.Channel}]; st != nil && st.id == e.StreamID {
			e.Payload = slices.Clone(e.Payload)
			st.entries = append(st.entries, e)
		}
	}
	return nil
}

func (s *sharedStore) Read(_ context.Context, q HistoryQuery) (HistoryPage, error) {
	unlock, err := s.lock()
	if err != nil {
		return HistoryPage{}, err
	}
	defer unlock()
	st := s.stream(q.App, q.Channel)
	if q.StreamID != "" && q.StreamID != st.id {
		return HistoryPage{}, ErrHistoryStreamChanged
	}
	var p HistoryPage
	for _, e := range st.entries {
		if (q.StartSerial == nil || e.Serial >= *q.StartSerial) && (q.EndSerial == nil || e.Serial <= *q.EndSerial) {
			p.Items = append(p.Items, e)
		}
	}
	if q.NewestFirst {
		slices.Reverse(p.Items)
	}
	if q.Limit > 0 && len(p.Items) > q.Limit {
		p.Items, p.HasMore = p.Items[:q.Limit], true
	}
	p.State = st.state()
	return p, nil
}

func (st *sharedStream) state() HistoryState {
	h := HistoryState{StreamID: st.id, NextSerial: st.next, RetainedMessages: int64(len(st.entries)),
		Degraded: st.degraded != "", Reason: st.degraded}
	if n := len(st.entries); n > 0 {
		h.OldestSerial, h.NewestSerial = st.entries[0].Serial, st.entries[n-1].Serial
	}
	return h
}

func (s *sharedStore) State(_ context.Context, app, channel string) (HistoryState, error) {
	unlock, err := s.lock()
	if err != nil {
		return HistoryState{}, err
	}
	defer unlock()
	if st := s.streams[[2]string{app, channel}]; st != nil {
		return st.state(), nil
	}
	return HistoryState{}, nil
}

func (s *sharedStore) SetDegraded(_ context.Context, app, channel, reason string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	s.stream(app, channel).degraded = reason
	return nil
}

func (s *sharedStore) Reset(_ context.Context, app, channel, _ string) (HistoryState, error) {
	unlock, err := s.lock()
	if err != nil {
		return HistoryState{}, err
	}
	defer unlock()
	st := &sharedStream{id: protocol.NewMessageID(), next: 1}
	s.streams[[2]string{app, channel}] = st
	return st.state(), nil
}

func (s *sharedStore) Purge(context.Context, string, string, HistoryPurge) (int64, error) {
	return 0, errors.ErrUnsupported
}

func (s *sharedStore) Expire(context.Context, string, int64, int) (int64, error) { return 0, nil }

func (s *sharedStore) serials(channel string) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	if st := s.streams[[2]string{"1", channel}]; st != nil {
		for _, e := range st.entries {
			out = append(out, e.Serial)
		}
	}
	return out
}

// historyNode starts a cluster node on hub with recovery and durable
// history (store) on; now, when set, is its replay buffer's clock, block
// (when set) how many serials one reservation takes.
func historyNode(t *testing.T, hub *memHub, store *sharedStore, name string, now func() time.Time, block ...int) (*Engine, *memBus) {
	t.Helper()
	b := hub.bus()
	o := streamOptions(b, name, recovery.New(recovery.Options{Now: now}))
	o.V2.History = HistoryOptions{Store: store, Enabled: true, WriteTimeout: time.Second}
	if len(block) > 0 {
		o.V2.History.ReserveBlock = block[0]
	}
	e := newEngine(t, o)
	hub.settled(t)
	return e, b
}

// ownerAndOther returns the nodes that own and do not own channel.
func ownerAndOther(a, b *Engine, channel string) (*Engine, *Engine) {
	if a.cluster.sequencer(channel) == "" {
		return a, b
	}
	return b, a
}

// TestClusterHistoryOneSequence: with durable history on, publishes
// from both nodes reach V2 subscribers on both as one stream, the
// store's, with consecutive serials in order and the same message ids;
// client events continue it; every acknowledgement has its
// history_serial; the store holds each serial once.
func TestClusterHistoryOneSequence(t *testing.T) {
	hub, store := newHub(), newSharedStore()
	a, _ := historyNode(t, hub, store, "a", nil)
	b, _ := historyNode(t, hub, store, "b", nil)
	app := testAppFrom(a)
	ca, cb := connectV2(t, a, ""), connectV2(t, b, "")
	ca.subscribePrivateV2("private-room")
	cb.subscribePrivateV2("private-room")
	const n = 12
	for i := 1; i <= n; i++ {
		node := []*Engine{a, b}[i%2]
		ev := &Event{Name: "ev", Data: fmt.Sprint(i), Channels: []string{"private-room"}, WantAcks: true}
		if err := node.Publish(t.Context(), app, ev); err != nil {
			t.Fatal(err)
		}
		if ack := ev.Acks[0]; !ack.HasSerial || !ack.Stored || ack.Serial != uint64(i) {
			t.Fatalf("publish %d: ack %+v", i, ack)
		}
	}
	sa, ida := recvN(t, ca, "ev", 1, n)
	sb, idb := recvN(t, cb, "ev", 1, n)
	if sa != sb {
		t.Fatalf("two streams: %s, %s", sa, sb)
	}
	for d, id := range ida {
		if idb[d] != id {
			t.Fatalf("message %s: id %s on a, %s on b", d, id, idb[d])
		}
	}
	// A client event on either node continues the sequence.
	other := cb
	if b.cluster.sequencer("private-room") == "" {
		other = ca
	}
	other.send(`{"event":"client-x","channel":"private-room","data":{}}`) // its V2 sender gets its echo
	for _, c := range []*client{ca, cb} {
		if m := c.expectV2("client-x"); *m.StreamID != sa || *m.Serial != n+1 {
			t.Fatalf("client event: %s", m.Raw)
		}
	}
	if st, _ := store.State(t.Context(), "1", "private-room"); st.StreamID != sa {
		t.Fatalf("delivered stream %s, the store's is %s", sa, st.StreamID)
	}
	waitFor(t, "every message stored once", func() bool {
		return slices.Equal(store.serials("private-room"), []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
	})
	// A subscriber joining on either node attaches at the head.
	for _, e := range []*Engine{a, b} {
		late := connectV2(t, e, "")
		if m := late.subscribePrivateV2("private-room"); m.StreamID == nil || *m.StreamID != sa || *m.Serial != n+1 {
			t.Fatalf("late subscribe: %s", m.Raw)
		}
	}
	ca.quiet()
	cb.quiet()
}

// TestClusterHistoryResumeOnAnotherNode: a client drops on the owner and
// resumes on the other node: from its hot buffer, and, with that expired,
// from durable history; exactly the missed messages, in order, once.
func TestClusterHistoryResumeOnAnotherNode(t *testing.T) {
	hub, store := newHub(), newSharedStore()
	clock, skew := skewedClock("room") // moves the resuming node's replay-buffer clock
	a, _ := historyNode(t, hub, store, "a", clock("a"))
	b, _ := historyNode(t, hub, store, "b", clock("b"))
	owner, other := ownerAndOther(a, b, "room")
	c1 := connectV2(t, owner, "")
	c1.subscribeV2("room")
	publish(t, owner, "room", "ev", "1", "")
	publish(t, other, "room", "ev", "2", "")
	stream, _ := recvN(t, c1, "ev", 1, 2)
	c1.c.Gone(nil)
	ids := map[uint64]string{}
	watch := connectV2(t, other, "")
	watch.subscribeV2("room")
	for i := 3; i <= 8; i++ {
		publish(t, []*Engine{owner, other}[i%2], "room", "ev", fmt.Sprint(i), "")
		m := watch.expectV2("ev")
		ids[*m.Serial] = *m.MessageID
	}
	check := func(c *client, source string) {
		t.Helper()
		events, failed, ok := c.resumeFrames(resumeData("room", stream, 2))
		if len(failed) != 0 || len(events) != 6 || !strings.Contains(ok.dataString(t), `"source":"`+source+`"`) {
			t.Fatalf("resume: %d replayed, %d failed: %s", len(events), len(failed), ok.Raw)
		}
		for i, m := range events {
			if *m.StreamID != stream || *m.Serial != uint64(3+i) || *m.MessageID != ids[*m.Serial] {
				t.Fatalf("replay %d: %s", i, m.Raw)
			}
		}
		c.quiet()
	}
	hot := connectV2(t, other, "")
	hot.subscribeV2("room")
	check(hot, "hot")
	skew.Store(int64(time.Hour)) // the hot buffer expired
	cold := connectV2(t, other, "")
	cold.subscribeV2("room")
	check(cold, "cold")
}

// skewedClock returns a clock function for the node that does not own
// channel (nil for the owner) and the skew that moves it.
func skewedClock(channel string) (func(name string) func() time.Time, *atomic.Int64) {
	skew := new(atomic.Int64)
	return func(name string) func() time.Time {
		if name == ownerName(channel) {
			return nil
		}
		return func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	}, skew
}

// roomAfterOneStoreDown starts history nodes a and b on one hub and store
// (every publish reserves a block of one serial; clock, when set, gives
// each node its replay buffer's clock), subscribes a V2 client to "room"
// on the owner (co) and on the other node (cr), publishes one message
// from the other node, waits until both clients have it, then takes the
// store down. stream is the stream that message opened.
func roomAfterOneStoreDown(t *testing.T, clock func(name string) func() time.Time) (store *sharedStore, owner, other *Engine, co, cr *client, stream string) {
	t.Helper()
	hub := newHub()
	store = newSharedStore()
	now := func(string) func() time.Time { return nil }
	if clock != nil {
		now = clock
	}
	a, _ := historyNode(t, hub, store, "a", now("a"), 1)
	b, _ := historyNode(t, hub, store, "b", now("b"), 1)
	owner, other = ownerAndOther(a, b, "room")
	co, cr = connectV2(t, owner, ""), connectV2(t, other, "")
	co.subscribeV2("room")
	cr.subscribeV2("room")
	publish(t, other, "room", "ev", "1", "")
	stream, _ = recvN(t, co, "ev", 1, 1)
	recvN(t, cr, "ev", 1, 1)
	store.down.Store(true)
	return store, owner, other, co, cr, stream
}

// TestClusterHistoryStoreDown: when the owner can get no serial, the
// message still reaches subscribers on every node, without a position,
// and is counted as dropped; once the store records the stream as
// degraded, a cold resume on the other node answers
// persistence_unavailable instead of replaying around the hole.
func TestClusterHistoryStoreDown(t *testing.T) {
	clock, skew := skewedClock("room")
	store, owner, other, co, cr, stream := roomAfterOneStoreDown(t, clock)
	publish(t, other, "room", "ev", "2", "")
	for _, c := range []*client{co, cr} {
		if m := c.expectV2("ev"); m.Serial != nil || m.StreamID != nil || m.dataString(t) != "2" {
			t.Fatalf("with the store down: %s", m.Raw)
		}
	}
	if got := owner.stats.historyDropped.Load(); got != 1 {
		t.Fatalf("dropped %d, want 1", got)
	}
	store.down.Store(false)
	waitFor(t, "the stream marked degraded in the store", func() bool {
		st, err := store.State(t.Context(), "1", "room")
		return err == nil && st.Degraded
	})
	skew.Store(int64(time.Hour)) // the other node's hot buffer expired
	c := connectV2(t, other, "")
	c.subscribeV2("room")
	events, failed, _ := c.resumeFrames(resumeData("room", stream, 0))
	if len(events) != 0 || len(failed) != 1 || failureOf(t, failed[0])["code"] != "persistence_unavailable" {
		t.Fatalf("cold resume of a degraded stream: %d replayed, failed %v", len(events), failed)
	}
	co.quiet()
	cr.quiet()
}

// TestClusterHistoryOwnerDiesGapNotSkipped: the owner dies holding
// unused serials; the survivor continues the store's stream past the
// gap, and a resume whose missed range spans the gap fails instead of
// replaying around it.
func TestClusterHistoryOwnerDiesGapNotSkipped(t *testing.T) {
	hub, store := newHub(), newSharedStore()
	a, abus := historyNode(t, hub, store, "a", nil)
	b, bbus := historyNode(t, hub, store, "b", nil)
	owner, survivor := ownerAndOther(a, b, "room")
	ownerBus := abus
	if owner == b {
		ownerBus = bbus
	}
	cs := connectV2(t, survivor, "")
	cs.subscribeV2("room")
	for i := 1; i <= 3; i++ {
		publish(t, owner, "room", "ev", fmt.Sprint(i), "")
	}
	stream, _ := recvN(t, cs, "ev", 1, 3)
	ownerBus.crash()
	waitFor(t, "the survivor sequences the channel", func() bool { return survivor.cluster.sequencer("room") == "" })
	publish(t, survivor, "room", "ev", "4", "")
	m := cs.expectV2("ev")
	if *m.StreamID != stream || *m.Serial <= 3 {
		t.Fatalf("after the owner died: %s", m.Raw)
	}
	gapEnd := *m.Serial
	cs.quiet()
	c := connectV2(t, survivor, "")
	c.subscribeV2("room")
	events, failed, _ := c.resumeFrames(resumeData("room", stream, 2))
	if len(events) != 0 || len(failed) != 1 {
		t.Fatalf("resume across the gap before serial %d: %d replayed, failed %v", gapEnd, len(events), failed)
	}
	if code := failureOf(t, failed[0])["code"]; code != "continuity_unverifiable" {
		t.Fatalf("resume across the gap: %v", failed[0].Raw)
	}
}

// TestClusterHistoryOwnerLeavesNoGap: the owner shutting down gives its
// unused serials back before its goodbye, so the survivor continues the
// same stream with the next serial and a client resumes across the
// change.
func TestClusterHistoryOwnerLeavesNoGap(t *testing.T) {
	hub, store := newHub(), newSharedStore()
	leaving, err := New(Options{Apps: staticApps{testApp()}, Shards: 1, Bus: hub.bus(), NodeName: ownerName("room"),
		HeartbeatInterval: 50 * time.Millisecond, NodeTimeout: time.Second, CleanupInterval: 50 * time.Millisecond,
		V2: V2Options{Recovery: recovery.New(recovery.Options{}), History: HistoryOptions{Store: store, Enabled: true}}})
	if err != nil {
		t.Fatal(err)
	}
	survivor, _ := historyNode(t, hub, store, map[string]string{"a": "b", "b": "a"}[ownerName("room")], nil)
	cs := connectV2(t, survivor, "")
	cs.subscribeV2("room")
	for i := 1; i <= 3; i++ {
		publish(t, survivor, "room", "ev", fmt.Sprint(i), "")
	}
	stream, _ := recvN(t, cs, "ev", 1, 3)
	if err := leaving.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the survivor owns the channel", func() bool { return survivor.cluster.sequencer("room") == "" })
	for i := 4; i <= 6; i++ {
		publish(t, survivor, "room", "ev", fmt.Sprint(i), "")
	}
	if s, _ := recvN(t, cs, "ev", 4, 3); s != stream {
		t.Fatalf("the survivor started stream %s, want %s continued", s, stream)
	}
	cs.quiet()
	c := connectV2(t, survivor, "")
	c.subscribeV2("room")
	events, failed, _ := c.resumeFrames(resumeData("room", stream, 2))
	if len(failed) != 0 || len(events) != 4 || *events[0].Serial != 3 || *events[3].Serial != 6 {
		t.Fatalf("resume across the owner change: %d replayed, failed %v", len(events), failed)
	}
	waitFor(t, "every serial stored once", func() bool { return slices.Equal(store.serials("room"), []uint64{1, 2, 3, 4, 5, 6}) })
}

// TestClusterHistoryResetOnAnotherNode: a reset through a node that does
// not own the channel reaches the owner, whose next publish starts the
// store's new stream (instead of stamping the old one, whose entries the
// store would drop) on every node.
func TestClusterHistoryResetOnAnotherNode(t *testing.T) {
	hub, store := newHub(), newSharedStore()
	a, _ := historyNode(t, hub, store, "a", nil)
	b, _ := historyNode(t, hub, store, "b", nil)
	owner, other := ownerAndOther(a, b, "room")
	co, cr := connectV2(t, owner, ""), connectV2(t, other, "")
	co.subscribeV2("room")
	cr.subscribeV2("room")
	for i := 1; i <= 3; i++ {
		publish(t, owner, "room", "ev", fmt.Sprint(i), "")
	}
	old, _ := recvN(t, co, "ev", 1, 3)
	recvN(t, cr, "ev", 1, 3)
	st, err := other.ResetHistory(t.Context(), testAppFrom(other), "room", "test")
	if err != nil || st.StreamID == old {
		t.Fatalf("reset: %+v, %v", st, err)
	}
	waitFor(t, "the owner forgot the old stream", func() bool {
		s, ok := owner.history.seqs.Load(chanKey{owner.runtimeFor(testAppFrom(owner)), "room"})
		if !ok {
			return true
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.stream != old
	})
	publish(t, other, "room", "ev", "after", "")
	for _, c := range []*client{co, cr} {
		if m := c.expectV2("ev"); *m.StreamID != st.StreamID || *m.Serial != 1 {
			t.Fatalf("after the reset: %s, want stream %s serial 1", m.Raw, st.StreamID)
		}
	}
	waitFor(t, "the new stream's first message stored", func() bool { return slices.Equal(store.serials("room"), []uint64{1}) })
	co.quiet()
	cr.quiet()
}
