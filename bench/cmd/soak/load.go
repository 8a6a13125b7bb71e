package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// bitset is a growable set of small non-negative integers.
type bitset []uint64

// set sets i and reports whether it was already set.
func (b *bitset) set(i int) bool {
	w := i >> 6
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	m := uint64(1) << (i & 63)
	was := (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}

func (b bitset) has(i int) bool {
	w := i >> 6
	return w < len(b) && b[w]&(uint64(1)<<(i&63)) != 0
}

// channelState is one stable private channel: HTTP publish sequence
// numbers (acked = the server answered 200) and client-event sequence
// numbers with their sender.
type channelState struct {
	name string
	mu   sync.Mutex
	next int // next publish seq
	// acked holds the seqs the API accepted.
	acked  bitset
	nAcked int
	// senders[seq] is the stable conn index that sent client event seq,
	// -1 when the write failed.
	senders []int32
	subs    []*held
}

// held is a connection the tool keeps for the whole run: a stable
// subscriber of a private channel or a presence observer.
type held struct {
	id       int
	ch       int // channel index (private) or presence channel index
	channel  string
	user     string // observers
	observer bool
	w        *wsConn
	closing  atomic.Bool
	done     chan struct{}

	mu         sync.Mutex
	pub        bitset // publish seqs received
	pubDup     int
	cev        bitset // client-event seqs received
	cevDup     int
	ownCev     int // own client events echoed back (must be 0)
	wrongCh    int // events for another channel
	errs       []string
	lost       error // reader ended without us closing
	members    map[string]bool
	memberBad  int // member_added for a present user / member_removed for an absent one
	otherCount int
}

type soak struct {
	cfg                config
	wsAddr, apiBase    string
	appID, key, secret string

	chans     []*channelState
	stable    []*held
	observers []*held

	// counters
	delivered    atomic.Int64 // publish deliveries to stable subs
	cevDelivered atomic.Int64
	pubOK        atomic.Int64 // events (channel × publish) acked
	pubReq       atomic.Int64 // HTTP requests answered 200
	pubErr       atomic.Int64
	pubSkipped   atomic.Int64
	cevSent      atomic.Int64
	cevSendErr   atomic.Int64
	churnOpened  atomic.Int64
	churnOpen    atomic.Int64
	churnErr     atomic.Int64
	churnKicked  atomic.Int64
	churnSkipped atomic.Int64
	presJoins    atomic.Int64
	presLeaves   atomic.Int64
	presOpen     atomic.Int64
	presOpened   atomic.Int64
	presErr      atomic.Int64
	presKicked   atomic.Int64
	otherDeliv   atomic.Int64 // events read by churn/presence conns

	errMu    sync.Mutex
	errFirst map[string]string // kind → first error text

	pubClient *http.Client
	churnSeen sync.Map // churn channel names used
}

func (s *soak) noteErr(kind string, err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.errFirst == nil {
		s.errFirst = map[string]string{}
	}
	if _, ok := s.errFirst[kind]; !ok {
		s.errFirst[kind] = err.Error()
		fmt.Fprintf(os.Stderr, "soak: first %s error: %v\n", kind, err)
	}
}

// ---- stable subscribers and presence observers ----

func (s *soak) openHeld(ctx context.Context) error {
	C := s.cfg.channels
	s.chans = make([]*channelState, C)
	for k := range s.chans {
		s.chans[k] = &channelState{name: "private-soak-" + strconv.Itoa(k)}
	}
	for i := 0; i < s.cfg.conns; i++ {
		k := i % C
		h := &held{id: i, ch: k, channel: s.chans[k].name, done: make(chan struct{})}
		s.stable = append(s.stable, h)
		s.chans[k].subs = append(s.chans[k].subs, h)
	}
	for k := 0; k < s.cfg.presenceChannels; k++ {
		s.observers = append(s.observers, &held{id: k, ch: k, channel: "presence-soak-" + strconv.Itoa(k),
			user: "observer-" + strconv.Itoa(k), observer: true, done: make(chan struct{}), members: map[string]bool{}})
	}
	all := append(append([]*held{}, s.stable...), s.observers...)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, h := range all {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.openOne(h); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", h.channel, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func (s *soak) openOne(h *held) error {
	w, err := dialWS(s.wsAddr, s.key, 10*time.Second)
	if err != nil {
		return err
	}
	h.w = w
	if err := w.subscribe(h.channel, s.key, s.secret, h.user); err != nil {
		w.abort()
		return err
	}
	m, err := w.waitSubscribed(h.channel, 10*time.Second, nil)
	if err != nil {
		w.abort()
		return err
	}
	if h.observer {
		var d struct {
			Presence struct {
				IDs []string `json:"ids"`
			} `json:"presence"`
		}
		if err := json.Unmarshal([]byte(m.dataString()), &d); err != nil {
			w.abort()
			return fmt.Errorf("presence data %s: %w", m.Data, err)
		}
		for _, id := range d.Presence.IDs {
			h.members[id] = true
		}
	}
	go s.readHeld(h)
	return nil
}

func (s *soak) readHeld(h *held) {
	defer close(h.done)
	for {
		m, err := h.w.next()
		if err != nil {
			if !h.closing.Load() {
				h.mu.Lock()
				h.lost = err
				h.mu.Unlock()
				s.noteErr("stable connection lost", fmt.Errorf("%s conn %d: %w", h.channel, h.id, err))
			}
			h.w.abort()
			return
		}
		h.mu.Lock()
		switch m.Event {
		case "soak-pub":
			if m.Channel != h.channel {
				h.wrongCh++
				break
			}
			seq, ok := pubSeq(m.dataString(), h.ch)
			if !ok {
				h.wrongCh++
				break
			}
			if h.pub.set(seq) {
				h.pubDup++
			} else {
				s.delivered.Add(1)
			}
		case "client-soak":
			if m.Channel != h.channel {
				h.wrongCh++
				break
			}
			k, seq, from, ok := cevParse(m.dataString())
			if !ok || k != h.ch {
				h.wrongCh++
				break
			}
			if from == h.id {
				h.ownCev++
			}
			if h.cev.set(seq) {
				h.cevDup++
			} else {
				s.cevDelivered.Add(1)
			}
		case "pusher_internal:member_added", "pusher_internal:member_removed":
			if !h.observer || m.Channel != h.channel {
				h.wrongCh++
				break
			}
			var d struct {
				UserID string `json:"user_id"`
			}
			_ = json.Unmarshal([]byte(m.dataString()), &d)
			add := m.Event == "pusher_internal:member_added"
			if h.members[d.UserID] == add {
				h.memberBad++
			}
			if add {
				h.members[d.UserID] = true
			} else {
				delete(h.members, d.UserID)
			}
		case "pusher:error":
			if len(h.errs) < 5 {
				h.errs = append(h.errs, string(m.Data))
			}
			s.noteErr("pusher:error on a stable connection", fmt.Errorf("%s", m.Data))
		default:
			h.otherCount++
		}
		h.mu.Unlock()
	}
}

// closeHeld closes every held connection with a close frame and waits
// for the readers.
func (s *soak) closeHeld() {
	all := append(append([]*held{}, s.stable...), s.observers...)
	for _, h := range all {
		if h.w == nil {
			continue
		}
		h.closing.Store(true)
		if h.w.write(0x8, []byte{0x03, 0xE8}) != nil {
			h.w.abort()
		}
	}
	deadline := time.After(5 * time.Second)
	for _, h := range all {
		if h.w == nil {
			continue
		}
		select {
		case <-h.done:
		case <-deadline:
			h.w.abort()
			<-h.done
		}
	}
}

// heldOpen counts held connections whose reader is still running.
func (s *soak) heldOpen() int {
	n := 0
	for _, h := range append(append([]*held{}, s.stable...), s.observers...) {
		if h.w == nil {
			continue
		}
		select {
		case <-h.done:
		default:
			n++
		}
	}
	return n
}

// ---- payload formats ----

// pubData is "p|k:seq,k:seq|<pad>".
func pubData(pairs [][2]int, size int) string {
	var b strings.Builder
	b.WriteString("p|")
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(p[0]))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p[1]))
	}
	b.WriteByte('|')
	for b.Len() < size {
		b.WriteByte('x')
	}
	return b.String()
}

// pubSeq finds channel k's seq in a pubData string.
func pubSeq(d string, k int) (int, bool) {
	rest, ok := strings.CutPrefix(d, "p|")
	if !ok {
		return 0, false
	}
	list, _, _ := strings.Cut(rest, "|")
	for _, p := range strings.Split(list, ",") {
		a, b, ok := strings.Cut(p, ":")
		if !ok {
			continue
		}
		if ka, err := strconv.Atoi(a); err == nil && ka == k {
			seq, err := strconv.Atoi(b)
			return seq, err == nil
		}
	}
	return 0, false
}

// cevParse parses "c|k|seq|from".
func cevParse(d string) (k, seq, from int, ok bool) {
	f := strings.Split(d, "|")
	if len(f) != 4 || f[0] != "c" {
		return 0, 0, 0, false
	}
	var e1, e2, e3 error
	k, e1 = strconv.Atoi(f[1])
	seq, e2 = strconv.Atoi(f[2])
	from, e3 = strconv.Atoi(f[3])
	return k, seq, from, e1 == nil && e2 == nil && e3 == nil
}

// ---- pacing ----

// pace calls f(i) rate times per second until ctx ends; f must not block.
func pace(ctx context.Context, rate float64, f func(i int)) {
	if rate <= 0 {
		return
	}
	start := time.Now()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			due := int(time.Since(start).Seconds() * rate)
			for ; n < due; n++ {
				f(n)
			}
		}
	}
}

// ---- HTTP publishes ----

type pubJob struct {
	path  string
	body  []byte
	pairs [][2]int
}

func (s *soak) publishLoop(ctx context.Context) {
	jobs := make(chan pubJob, 256)
	var wg sync.WaitGroup
	for range s.cfg.pubWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.doPublish(j)
			}
		}()
	}
	C := len(s.chans)
	pace(ctx, s.cfg.publishRate, func(i int) {
		k := i % C
		var j pubJob
		switch mode := i % 10; {
		case mode <= 6 || C < 3: // one channel
			pairs := [][2]int{{k, s.nextSeq(k)}}
			j = pubJob{path: "/apps/" + s.appID + "/events", pairs: pairs}
			j.body, _ = json.Marshal(map[string]any{"name": "soak-pub", "channel": s.chans[k].name, "data": pubData(pairs, s.cfg.payload)})
		case mode <= 8: // one event to three channels
			ks := []int{k, (k + 1) % C, (k + 2) % C}
			var pairs [][2]int
			var names []string
			for _, kk := range ks {
				pairs = append(pairs, [2]int{kk, s.nextSeq(kk)})
				names = append(names, s.chans[kk].name)
			}
			j = pubJob{path: "/apps/" + s.appID + "/events", pairs: pairs}
			j.body, _ = json.Marshal(map[string]any{"name": "soak-pub", "channels": names, "data": pubData(pairs, s.cfg.payload)})
		default: // batch_events, three events
			var batch []map[string]any
			var pairs [][2]int
			for n := range 3 {
				kk := (k + n) % C
				p := [][2]int{{kk, s.nextSeq(kk)}}
				pairs = append(pairs, p[0])
				batch = append(batch, map[string]any{"name": "soak-pub", "channel": s.chans[kk].name, "data": pubData(p, s.cfg.payload)})
			}
			j = pubJob{path: "/apps/" + s.appID + "/batch_events", pairs: pairs}
			j.body, _ = json.Marshal(map[string]any{"batch": batch})
		}
		select {
		case jobs <- j:
		default:
			s.pubSkipped.Add(1)
		}
	})
	close(jobs)
	wg.Wait()
}

func (s *soak) nextSeq(k int) int {
	c := s.chans[k]
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := c.next
	c.next++
	return seq
}

func (s *soak) doPublish(j pubJob) {
	q := protocol.SignRequest("POST", j.path, nil, j.body, s.key, s.secret, time.Now())
	resp, err := s.pubClient.Post(s.apiBase+j.path+"?"+q, "application/json", bytes.NewReader(j.body))
	if err != nil {
		s.pubErr.Add(1)
		s.noteErr("publish", err)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		s.pubErr.Add(1)
		s.noteErr("publish", fmt.Errorf("%s: %s", resp.Status, body))
		return
	}
	s.pubReq.Add(1)
	for _, p := range j.pairs {
		c := s.chans[p[0]]
		c.mu.Lock()
		c.acked.set(p[1])
		c.nAcked++
		c.mu.Unlock()
	}
	s.pubOK.Add(int64(len(j.pairs)))
}

// ---- client events ----

func (s *soak) clientEventLoop(ctx context.Context) {
	if len(s.stable) == 0 {
		return
	}
	pace(ctx, s.cfg.clientEvents, func(i int) {
		h := s.stable[(i*7919)%len(s.stable)]
		c := s.chans[h.ch]
		c.mu.Lock()
		seq := len(c.senders)
		c.senders = append(c.senders, int32(h.id))
		c.mu.Unlock()
		data := "c|" + strconv.Itoa(h.ch) + "|" + strconv.Itoa(seq) + "|" + strconv.Itoa(h.id)
		err := h.w.send(map[string]any{"event": "client-soak", "channel": h.channel, "data": data})
		if err != nil {
			c.mu.Lock()
			c.senders[seq] = -1
			c.mu.Unlock()
			s.cevSendErr.Add(1)
			s.noteErr("client event send", err)
			return
		}
		s.cevSent.Add(1)
	})
}

// ---- churn and presence ----

func (s *soak) churnLoop(ctx context.Context, wg *sync.WaitGroup) {
	s.paceBounded(ctx, wg, s.cfg.churn, s.churnOne)
}

// paceBounded starts one(ctx, i) rate times a second, each on its own
// goroutine, at most maxChurnConc at once; a start that finds them all
// busy is skipped and counted, so a slow server cannot pile them up.
func (s *soak) paceBounded(ctx context.Context, wg *sync.WaitGroup, rate float64, one func(context.Context, int)) {
	sem := make(chan struct{}, s.cfg.maxChurnConc)
	pace(ctx, rate, func(i int) {
		select {
		case sem <- struct{}{}:
		default:
			s.churnSkipped.Add(1)
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			one(ctx, i)
		}()
	})
}

func (s *soak) churnOne(ctx context.Context, i int) {
	w, err := dialWS(s.wsAddr, s.key, 10*time.Second)
	if err != nil {
		s.churnErr.Add(1)
		s.noteErr("churn connect", err)
		return
	}
	s.churnOpened.Add(1)
	s.churnOpen.Add(1)
	defer s.churnOpen.Add(-1)
	pch := s.chans[i%len(s.chans)].name
	// Odd connections use a channel that stays empty for several seconds
	// between uses (occupied and vacated webhooks every time); even ones
	// one of four hot channels (vacated mostly cancelled by the next join).
	cch := "soak-churn-" + strconv.Itoa((i/2)%s.cfg.churnChannels)
	if i%2 == 0 {
		cch = "soak-churn-hot-" + strconv.Itoa((i/2)%4)
	}
	s.churnSeen.Store(cch, true)
	for _, ch := range []string{pch, cch} {
		err := w.subscribe(ch, s.key, s.secret, "")
		if err == nil {
			_, err = w.waitSubscribed(ch, 10*time.Second, func(*msg) { s.otherDeliv.Add(1) })
		}
		if err != nil {
			s.churnErr.Add(1)
			s.noteErr("churn subscribe", err)
			w.abort()
			return
		}
	}
	life := time.Duration(200+rand.IntN(1800)) * time.Millisecond
	if kicked := s.hold(ctx, w, life); kicked {
		s.churnKicked.Add(1)
		return
	}
	switch i % 4 {
	case 0:
		w.abort()
	case 1:
		w.closeGraceful()
	case 2:
		_ = w.unsubscribe(pch)
		_ = w.unsubscribe(cch)
		w.closeGraceful()
	default:
		_ = w.unsubscribe(cch)
		w.abort()
	}
}

// hold reads (and drops) events for d or until ctx ends; it reports
// whether the server closed the connection.
func (s *soak) hold(ctx context.Context, w *wsConn, d time.Duration) bool {
	end := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(end) {
		end = dl
	}
	stop := context.AfterFunc(ctx, func() { _ = w.c.SetReadDeadline(time.Now()) })
	defer stop()
	_ = w.c.SetReadDeadline(end)
	for {
		_, err := w.next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = w.c.SetReadDeadline(time.Time{})
				return false
			}
			s.noteErr("churn/presence conn closed by server", err)
			w.abort()
			return true
		}
		s.otherDeliv.Add(1)
	}
}

func (s *soak) presenceLoop(ctx context.Context, wg *sync.WaitGroup) {
	if len(s.observers) == 0 {
		return
	}
	s.paceBounded(ctx, wg, s.cfg.presence, s.presenceOne)
}

func (s *soak) presenceOne(ctx context.Context, i int) {
	w, err := dialWS(s.wsAddr, s.key, 10*time.Second)
	if err != nil {
		s.presErr.Add(1)
		s.noteErr("presence connect", err)
		return
	}
	s.presOpened.Add(1)
	s.presOpen.Add(1)
	defer s.presOpen.Add(-1)
	ch := s.observers[i%len(s.observers)].channel
	user := "u" + strconv.Itoa(rand.IntN(s.cfg.presenceUsers))
	err = w.subscribe(ch, s.key, s.secret, user)
	if err == nil {
		_, err = w.waitSubscribed(ch, 10*time.Second, func(*msg) { s.otherDeliv.Add(1) })
	}
	if err != nil {
		s.presErr.Add(1)
		s.noteErr("presence subscribe", err)
		w.abort()
		return
	}
	s.presJoins.Add(1)
	life := time.Duration(200+rand.IntN(2800)) * time.Millisecond
	if s.hold(ctx, w, life) {
		s.presKicked.Add(1)
		return
	}
	switch i % 3 {
	case 0:
		_ = w.unsubscribe(ch)
		s.hold(context.Background(), w, 200*time.Millisecond)
		w.closeGraceful()
	case 1:
		w.closeGraceful()
	default:
		w.abort()
	}
	s.presLeaves.Add(1)
}

// ---- end-of-run accounting ----

type deliveryStats struct {
	pubExpected, pubGot, pubLost, pubDup, pubUnacked int
	cevExpected, cevGot, cevLost, cevDup, cevOwn     int
	wrongCh, errs                                    int
	lostConns                                        int
}

func (s *soak) deliveries() deliveryStats {
	var d deliveryStats
	for _, c := range s.chans {
		c.mu.Lock()
		acked := append(bitset(nil), c.acked...)
		next := c.next
		senders := append([]int32(nil), c.senders...)
		c.mu.Unlock()
		for _, h := range c.subs {
			h.mu.Lock()
			for seq := 0; seq < next; seq++ {
				got := h.pub.has(seq)
				if acked.has(seq) {
					d.pubExpected++
					if got {
						d.pubGot++
					} else {
						d.pubLost++
					}
				} else if got {
					d.pubUnacked++
				}
			}
			for seq, from := range senders {
				if from < 0 || int(from) == h.id {
					continue
				}
				d.cevExpected++
				if h.cev.has(seq) {
					d.cevGot++
				} else {
					d.cevLost++
				}
			}
			d.pubDup += h.pubDup
			d.cevDup += h.cevDup
			d.cevOwn += h.ownCev
			d.wrongCh += h.wrongCh
			d.errs += len(h.errs)
			if h.lost != nil {
				d.lostConns++
			}
			h.mu.Unlock()
		}
	}
	for _, h := range s.observers {
		h.mu.Lock()
		d.wrongCh += h.wrongCh
		d.errs += len(h.errs)
		if h.lost != nil {
			d.lostConns++
		}
		h.mu.Unlock()
	}
	return d
}

// observerViews checks that each presence observer sees only itself.
func (s *soak) observerViews() (bad int, example string, memberBad int) {
	for _, h := range s.observers {
		h.mu.Lock()
		memberBad += h.memberBad
		if len(h.members) != 1 || !h.members[h.user] {
			bad++
			if example == "" {
				var ids []string
				for u := range h.members {
					ids = append(ids, u)
				}
				example = fmt.Sprintf("%s sees %d members %v", h.channel, len(ids), trimList(ids, 8))
			}
		}
		h.mu.Unlock()
	}
	return
}

func trimList(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "…")
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
