package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/engine/delta"
	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/protocol"
)

// jobKind says what a worker job does.
type jobKind uint8

const (
	jobPublish  jobKind = iota // deliver f to the worker's subscribers of key
	jobSend                    // deliver f to conn
	jobAdd                     // adopt conn, then deliver f (connection_established)
	jobClose                   // close conn with code after delivering f (may be nil)
	jobCloseAll                // shutdown: close every conn with 4200
	jobAck                     // make conn live in key's index, then deliver f
	jobCloseApp                // close every conn of key.app with code
	jobReplay                  // deliver a resume's replayed messages to conn
	jobRewind                  // deliver a rewind's history, then the gated live frames
	jobGate                    // hold conn's live frames of key until a jobRewind
	jobDelta                   // change conn's delta state (reason: deltaOp*)
)

// job is one unit of work handed to a worker. Publishing to a channel hands
// each worker one job, not one per recipient.
type job struct {
	kind   jobKind
	conn   *Conn
	key    chanKey
	f      *frame
	except string // socket id excluded from a publish
	code   protocol.Code
	reason string
	// V2: f2 is what V2 subscribers receive when it differs from f;
	// stream and serial are the message's position (serial 0: none), or
	// for jobAck the position subscription_succeeded announced.
	f2     *frame
	stream string
	serial uint64
	replay *replayBatch // jobReplay
	// fx is a publish's frame per binary wire format (wireformat.go).
	fx     wireSet
	rewind *rewindBatch // jobRewind
	gate   bool         // jobAck: hold the channel's live frames until its jobRewind
	// filterable: a channel message subscription filters apply to (not
	// an internal broadcast); msg is its view for them, nil when the
	// publisher found no filtered subscriber.
	filterable bool
	msg        *filter.Message
	// dp serves delta subscribers of a publish; nil when the channel
	// has none (v2delta.go).
	dp *delta.Publication
}

// chanKey names a channel of an app. The app pointer keeps keys of
// different apps apart without building a string per lookup.
type chanKey struct {
	app  *appRuntime
	name string
}

// worker owns a partition of the connections: it alone writes to their
// sockets, runs their timers and keeps the index its publishes walk.
type worker struct {
	id int
	e  *Engine

	mu    sync.Mutex // guards inbox
	inbox []job
	// own is held by whoever uses the state "owned by the worker" below:
	// the worker goroutine while it handles an event, or a publisher that
	// found the worker idle and delivers a small publish itself (inline).
	own sync.Mutex
	// inline is the job a publisher processes while holding own (publish);
	// kept here so that it does not escape to the heap per publish.
	inline job
	spare  []job
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}

	// subMu guards subs, the fan-out index of this worker's connections.
	// Written by subscribing goroutines, read by the worker while it
	// processes a publish.
	subMu sync.RWMutex
	subs  map[chanKey]map[*Conn]bool        // value: live (acknowledged)
	v2s   map[chanKey]int                   // V2 connections among subs
	bins  map[chanKey][numBinaryFormats]int // binary-format connections among subs, by format
	// filtered are the V2 subscribers with a filter, kept apart from subs
	// (filters.go); they count in v2s.
	filtered map[chanKey]*filteredSubs

	// Owned by the worker goroutine.
	conns  map[*Conn]struct{}
	dirty  []*Conn
	wheel  wheel
	timer  *time.Timer // fires when the wheel's next slot is due
	wakeAt int64       // unix nanos the timer is set for

	// poll reads this worker's pollable connections; nil where the
	// platform has no epoll.
	poll *poller

	nconns atomic.Int64 // len(conns), for metrics
	queued atomic.Int64 // jobs waiting in the inbox, for metrics

	// The filtered fan-out in progress (worker goroutine): onMatch is
	// bound once so that matching allocates no closure per publish.
	cur     *job
	matched int
	onMatch func(*Conn)
	dstats  deltaCounters
	dpend   deltaPending // owned by the worker goroutine
}

func newWorker(e *Engine, id int) *worker {
	w := &worker{
		id:    id,
		e:     e,
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		subs:  make(map[chanKey]map[*Conn]bool),
		v2s:   make(map[chanKey]int),
		bins:  make(map[chanKey][numBinaryFormats]int),
		conns: make(map[*Conn]struct{}),

		filtered: make(map[chanKey]*filteredSubs),
	}
	w.onMatch = w.matchFiltered
	now := time.Now()
	w.wheel.init(now)
	w.wakeAt = now.Add(wheelMaxSleep).UnixNano()
	w.timer = time.NewTimer(wheelMaxSleep)
	return w
}

// push hands j to the worker. It never blocks on the worker.
func (w *worker) push(j job) {
	w.mu.Lock()
	w.inbox = append(w.inbox, j)
	w.mu.Unlock()
	w.queued.Add(1)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// inlineMax is the largest share of a publish (a worker's subscribers of
// the channel) that the publishing goroutine writes itself when the worker
// is idle. Handing a small publish to an idle worker costs more than its
// writes: a goroutine wake-up, often a sleeping thread woken by futex, and
// that thread parking again, per worker per publish. A larger share goes to
// the worker so that both cores write a broadcast and the publisher (an
// HTTP request) is not held up by it.
const inlineMax = 32

// publish hands a publish job to the worker, or, when small is set and the
// worker is idle (no goroutine holds its state and its inbox is empty),
// processes it on the caller's goroutine. Order holds either way: every
// job pushed before is already processed when the inbox is empty, and a
// job pushed meanwhile waits for own. The caller must hold no lock the
// worker's processing could take.
func (w *worker) publish(j job, small bool) {
	if small && w.own.TryLock() {
		w.mu.Lock()
		idle := len(w.inbox) == 0
		w.mu.Unlock()
		if idle {
			w.inline = j
			w.process(&w.inline)
			w.flush()
			w.inline.release()
			w.own.Unlock()
			return
		}
		w.own.Unlock()
	}
	w.push(j)
}

// run is the worker loop. It is long only because it is the one select
// every event of the worker goes through.
func (w *worker) run() {
	defer close(w.done)
	defer w.timer.Stop()
	for {
		select {
		case <-w.wake:
			w.own.Lock()
			w.drain()
			w.own.Unlock()
		case now := <-w.timer.C:
			w.own.Lock()
			w.wheel.advance(now, w.check)
			w.flush()
			w.drain()
			w.sleepUntilDue(time.Now().UnixNano())
			w.own.Unlock()
		case <-w.quit:
			w.own.Lock()
			w.drain()
			w.own.Unlock()
			return
		}
	}
}

// drain processes every queued job, then flushes each touched connection
// once: frames for one connection that arrive together leave in one write.
func (w *worker) drain() {
	for {
		w.mu.Lock()
		jobs := w.inbox
		w.inbox = w.spare[:0]
		w.mu.Unlock()
		if len(jobs) == 0 {
			w.spare = jobs
			return
		}
		w.queued.Add(-int64(len(jobs)))
		for i := range jobs {
			w.process(&jobs[i])
		}
		w.flush()
		for i := range jobs {
			jobs[i].release()
		}
		w.spare = jobs
	}
}

// release drops the job's frame references and clears it for reuse.
func (j *job) release() {
	if j.f != nil {
		j.f.release()
	}
	if j.f2 != nil {
		j.f2.release()
	}
	j.fx.release()
	*j = job{}
}

func (w *worker) process(j *job) {
	switch j.kind {
	case jobPublish:
		w.fanout(j)
	case jobSend:
		w.queue(j.conn, j.f.b)
	case jobAdd:
		w.adopt(j.conn)
		w.queue(j.conn, j.f.b)
		if code := j.conn.rt.closeCode.Load(); code != 0 {
			j.conn.closeWith(protocol.Code(code), "")
		}
	case jobClose:
		w.closeConn(j.conn, j.f, j.code, j.reason)
	case jobAck:
		w.subMu.Lock()
		if set := w.subs[j.key]; set != nil {
			if _, ok := set[j.conn]; ok {
				set[j.conn] = true
			}
		}
		w.liveFiltered(j.key, j.conn)
		w.subMu.Unlock()
		if j.stream != "" {
			j.conn.attach(j.key.name, j.stream, j.serial)
		}
		w.queue(j.conn, j.f.b)
		if j.gate {
			j.conn.openGate(j.key.name)
		}
		if j.conn.v2 && w.e.opts.V2.Delta != nil {
			w.attachDelta(j.conn, j.key)
		}
	case jobReplay:
		w.replay(j)
	case jobRewind:
		w.finishRewind(j)
	case jobGate:
		j.conn.openGate(j.key.name)
	case jobDelta:
		w.deltaJob(j)
	case jobCloseAll:
		for c := range w.conns {
			c.closeWith(protocol.CodeReconnect, "Server shutting down")
		}
	case jobCloseApp:
		for c := range w.conns {
			if c.rt == j.key.app {
				c.closeWith(j.code, "")
			}
		}
	}
}

// fanout queues a publish for every subscriber of the key this worker owns.
func (w *worker) fanout(j *job) {
	w.subMu.RLock()
	for c, live := range w.subs[j.key] {
		if !live || j.except != "" && c.id == j.except {
			continue
		}
		if c.v2 {
			if j.serial != 0 && !c.gateLive(j.key.name, j.stream, j.serial) {
				continue
			}
			if c.gates != nil && w.gated(c, j.key.name, j.pick(), j.serial) {
				continue
			}
			if fx := j.wireFrame(c); fx != nil {
				w.queue(c, fx.b)
				continue
			}
			// Deltas only line up with JSON: binary connections never get them.
			if j.dp != nil && c.hasDeltaSubs() && !c.binary() && w.queueDelta(c, j) {
				continue
			}
			if j.f2 != nil {
				w.queue(c, j.f2.b)
				continue
			}
		}
		w.queue(c, j.f.b)
	}
	w.fanoutFiltered(j)
	w.subMu.RUnlock()
	if j.dp != nil {
		w.flushDeltaStats()
	}
}

func (w *worker) adopt(c *Conn) {
	w.conns[c] = struct{}{}
	w.nconns.Add(1)
	now := time.Now().UnixNano()
	t := c.nextCheck(now)
	w.wheel.insert(c, t)
	if t < w.wakeAt {
		w.wakeAt = t
		w.timer.Reset(time.Duration(t - now))
	}
}

// sleepUntilDue sets the timer for the wheel's next non-empty slot.
func (w *worker) sleepUntilDue(now int64) {
	w.wakeAt = w.wheel.due(now)
	w.timer.Reset(time.Duration(w.wakeAt - now))
}

// queue adds b to c's pending writes. b must stay valid until the next
// flush; flush copies what the socket does not take.
func (w *worker) queue(c *Conn, b []byte) {
	if c.state.Load() == stateClosed {
		return
	}
	if c.binary() {
		if b = c.wireOut(b); len(b) == 0 {
			return
		}
	}
	c.rt.stats.sent(w.id, len(b))
	if c.slow.Load() && c.appendBacklog(b) {
		return
	}
	c.out = append(c.out, b)
	c.outLen += len(b)
	if !c.dirty {
		c.dirty = true
		w.dirty = append(w.dirty, c)
	}
}

// flush writes each dirty connection's pending frames with one vectored,
// non-blocking write. Whatever the kernel does not take moves to the
// connection's backlog, drained by its flusher goroutine, so a slow reader
// never stalls the worker.
func (w *worker) flush() {
	for i, c := range w.dirty {
		w.dirty[i] = nil
		c.dirty = false
		if c.state.Load() != stateClosed && len(c.out) > 0 {
			w.write(c, true)
		}
		clear(c.out)
		c.out = c.out[:0]
		c.outLen = 0
		if cap(c.out) > 64 {
			c.out = nil
		}
	}
	w.dirty = w.dirty[:0]
}

// write writes c.out and hands what the socket did not take to the
// backlog, within max_backpressure when bounded (the connection's last
// frames are not).
func (w *worker) write(c *Conn, bounded bool) {
	n, err := c.t.TryWrite(c.out)
	if err != nil {
		c.closeWith(0, "")
		return
	}
	if n < c.outLen {
		c.startBacklog(n, bounded)
	}
}

// closeConn delivers the final frames, closes the socket and releases
// everything the connection held. It runs once per connection.
func (w *worker) closeConn(c *Conn, f *frame, code protocol.Code, reason string) {
	if c.state.Swap(stateClosed) == stateClosed {
		return
	}
	if f != nil && len(f.b) > 0 && c.binary() {
		f.b = c.wireOut(f.b)
	}
	if f != nil && len(f.b) > 0 && !c.lastToBacklog(f.b) {
		c.out = append(c.out, f.b)
		c.outLen += len(f.b)
		w.write(c, false)
		clear(c.out)
		c.out = c.out[:0]
		c.outLen = 0
	}
	if w.poll != nil {
		w.poll.remove(c)
	}
	if !c.finishBacklog() {
		_ = c.t.Close()
	}
	if _, ok := w.conns[c]; ok {
		delete(w.conns, c)
		w.nconns.Add(-1)
	}
	w.wheel.remove(c)
	w.dropDeltas(c)
	w.e.release(c, code, reason)
}

// check is the wheel callback for c; see Conn.nextCheck.
func (w *worker) check(c *Conn, now int64) int64 {
	if c.state.Load() == stateClosed {
		return 0
	}
	return c.tick(now)
}

// indexAdd and indexRemove maintain the fan-out index. Callers hold the
// channel's registry shard lock, which orders them with presence events.
//
// A new entry is not live: publishes skip it until the worker processes
// the jobAck that carries subscription_succeeded. So a publish queued
// before the acknowledgement is not delivered, and one queued after it is
// delivered after it, whatever the timing; and the key is in the index at
// once, so no publisher skips this worker.
//
// A V2 subscriber with a filter (p != nil) goes to the filtered index.
func (w *worker) indexAdd(k chanKey, c *Conn, p *filter.Predicate) {
	w.subMu.Lock()
	if p != nil {
		if !w.removeFiltered(k, c) {
			w.v2s[k]++
		}
		w.addFiltered(k, c, p)
		w.subMu.Unlock()
		return
	}
	set := w.subs[k]
	if set == nil {
		set = make(map[*Conn]bool)
		w.subs[k] = set
	}
	if _, had := set[c]; !had && c.v2 {
		w.v2s[k]++
		w.countFormat(k, c, 1)
	}
	set[c] = false
	w.subMu.Unlock()
}

func (w *worker) indexRemove(k chanKey, c *Conn) {
	w.subMu.Lock()
	if w.removeFiltered(k, c) {
		if w.v2s[k]--; w.v2s[k] <= 0 {
			delete(w.v2s, k)
		}
	}
	if set := w.subs[k]; set != nil {
		if _, had := set[c]; had && c.v2 {
			if w.v2s[k]--; w.v2s[k] <= 0 {
				delete(w.v2s, k)
			}
			w.countFormat(k, c, -1)
		}
		delete(set, c)
		if len(set) == 0 {
			delete(w.subs, k)
		}
	}
	w.subMu.Unlock()
}

// subscriberKinds reports whether the worker owns subscribers of k,
// whether any of them speaks V2, and whether they are few (at most
// inlineMax, none filtered).
func (w *worker) subscriberKinds(k chanKey) (has, v2, few bool) {
	w.subMu.RLock()
	set, has := w.subs[k]
	v2 = w.v2s[k] > 0
	few = len(set) <= inlineMax && w.filtered[k] == nil
	has = has || w.filtered[k] != nil
	w.subMu.RUnlock()
	return has, v2, few
}

// hasSubscribers lets a publisher skip workers with nobody on the channel.
func (w *worker) hasSubscribers(k chanKey) bool {
	w.subMu.RLock()
	_, ok := w.subs[k]
	ok = ok || w.filtered[k] != nil
	w.subMu.RUnlock()
	return ok
}

// pick is the frame a V2 subscriber of a publish receives.
func (j *job) pick() []byte {
	if j.f2 != nil {
		return j.f2.b
	}
	return j.f.b
}
