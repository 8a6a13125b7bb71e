package engine

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/sockudo/sockudo-go/engine/filter"
	"github.com/sockudo/sockudo-go/protocol"
)

// Subscription filters (sockudo-v2.md §7) in the engine. A V2 subscribe
// with a `filter` or `tags_filter` compiles a *filter.Predicate; the
// subscriber is then kept out of the worker's plain subscriber set and
// filed in the channel's filter.Index instead, so that a publish pays for
// the filtered subscribers that can match it, not for all of them.
//
// Continuity: a message a filter suppresses is not recorded in the
// subscriber's liveRange. It needs no record: the range is the pair of
// its ends, so the next delivered serial extends it over the suppressed
// ones, and a resume or rewind replays through the same predicate, so a
// suppressed message is never delivered later either.

// filteredSubs are one worker's filtered subscribers of one channel.
// Guarded by the worker's subMu; idx holds the acknowledged (live) ones.
type filteredSubs struct {
	subs map[*Conn]*filteredSub
	idx  *filter.Index[*Conn]
}

type filteredSub struct {
	pred *filter.Predicate
	live bool
}

// parseFilter compiles the filter of a V2 subscribe; nil when the
// subscribe has none (or only parts the configuration switches off). V1
// subscribes never get here: they ignore both fields.
func (e *Engine) parseFilter(data []byte) (*filter.Predicate, error) {
	if !bytes.Contains(data, []byte(`filter"`)) {
		return nil, nil // neither "filter" nor "tags_filter": skip the decode
	}
	var f struct {
		Filter     json.RawMessage `json:"filter"`
		TagsFilter json.RawMessage `json:"tags_filter"`
	}
	if json.Unmarshal(data, &f) != nil {
		return nil, nil // the subscribe decoder already accepted data
	}
	p, err := filter.Parse(f.Filter, f.TagsFilter, e.opts.V2.Filters)
	if err != nil {
		e.stats.filterRejected.Add(1)
		return nil, err
	}
	return p, nil
}

// refuseFilter answers a subscribe whose filter does not compile: a
// non-fatal sockudo:error 4000 with Sockudo's text; nothing is joined.
func (c *Conn) refuseFilter(channel string, err error) {
	code := protocol.CodeInvalidMessage
	if fe, ok := err.(*filter.Error); ok {
		code = protocol.Code(fe.Code())
	}
	c.sendError(code, err.Error(), channel)
}

// addFiltered files c, not yet live, among k's filtered subscribers.
// subMu must be held for writing.
func (w *worker) addFiltered(k chanKey, c *Conn, p *filter.Predicate) {
	fs := w.filtered[k]
	if fs == nil {
		fs = &filteredSubs{subs: make(map[*Conn]*filteredSub), idx: filter.NewIndex[*Conn]()}
		w.filtered[k] = fs
	}
	fs.subs[c] = &filteredSub{pred: p}
	w.e.filteredSubs.Add(1)
}

// liveFiltered makes c a live filtered subscriber of k (its jobAck) and
// reports whether c is one. subMu must be held for writing.
func (w *worker) liveFiltered(k chanKey, c *Conn) bool {
	fs := w.filtered[k]
	if fs == nil {
		return false
	}
	s := fs.subs[c]
	if s == nil {
		return false
	}
	if !s.live {
		s.live = true
		fs.idx.Add(c, s.pred)
	}
	return true
}

// removeFiltered forgets c as a filtered subscriber of k and reports
// whether it was one. subMu must be held for writing.
func (w *worker) removeFiltered(k chanKey, c *Conn) bool {
	fs := w.filtered[k]
	if fs == nil || fs.subs[c] == nil {
		return false
	}
	delete(fs.subs, c)
	fs.idx.Remove(c)
	w.e.filteredSubs.Add(-1)
	if len(fs.subs) == 0 {
		delete(w.filtered, k)
	}
	return true
}

// predicateOf is c's filter on channel k, nil when it has none or is not
// subscribed (a replay then sends everything, as Sockudo does).
func (w *worker) predicateOf(k chanKey, c *Conn) *filter.Predicate {
	w.subMu.RLock()
	defer w.subMu.RUnlock()
	if fs := w.filtered[k]; fs != nil {
		if s := fs.subs[c]; s != nil {
			return s.pred
		}
	}
	return nil
}

// hasFiltered reports whether the worker has filtered subscribers of k.
func (w *worker) hasFiltered(k chanKey) bool {
	w.subMu.RLock()
	_, ok := w.filtered[k]
	w.subMu.RUnlock()
	return ok
}

// fanoutFiltered delivers a publish to k's live filtered subscribers its
// message passes. subMu is held for reading. A job that is not
// filterable is an internal broadcast (presence, subscription counts),
// which filters do not apply to.
func (w *worker) fanoutFiltered(j *job) {
	if len(w.filtered) == 0 {
		return // no filtered subscriber on this worker: no map lookup
	}
	fs := w.filtered[j.key]
	if fs == nil {
		return
	}
	if !j.filterable {
		for c, s := range fs.subs {
			if s.live {
				w.deliverV2(c, j)
			}
		}
		return
	}
	msg := j.msg
	if msg == nil {
		// Published while this subscriber joined, after the publisher
		// looked for filters: read the message back from its frame (which
		// lacks the tags when tag emission is off; a rare window, and tag
		// filters then see none).
		msg = messageOfPayload(j.pickFrame().buf[protocol.MaxFrameHeader:])
	}
	w.cur, w.matched = j, 0
	fs.idx.Match(msg, w.onMatch)
	w.cur = nil
	if n := fs.idx.Len() - w.matched; n > 0 {
		w.e.stats.filterSuppressed.Add(uint64(n))
	}
}

// matchFiltered is w.onMatch: one filtered subscriber accepted w.cur.
func (w *worker) matchFiltered(c *Conn) {
	w.matched++
	w.deliverV2(c, w.cur)
}

// deliverV2 is the fan-out of one publish to one live V2 subscriber: the
// sender exclusion, the continuity gate and the rewind gate, then the
// delta or full V2 frame. A subscriber its filter suppressed never gets
// here, so its delta base stays the one it holds.
func (w *worker) deliverV2(c *Conn, j *job) {
	if j.except != "" && c.id == j.except {
		return
	}
	if j.serial != 0 && !c.gateLive(j.key.name, j.stream, j.serial) {
		return
	}
	if c.gates != nil && w.gated(c, j.key.name, j.pick(), j.serial) {
		return
	}
	if fx := j.wireFrame(c); fx != nil {
		w.queue(c, fx.b)
		return
	}
	if j.dp != nil && c.hasDeltaSubs() && !c.binary() && w.queueDelta(c, j) {
		return
	}
	w.queue(c, j.pick())
}

// pickFrame is the frame a V2 subscriber of a publish receives.
func (j *job) pickFrame() *frame {
	if j.f2 != nil {
		return j.f2
	}
	return j.f
}

// filterMessage builds the view filters read of a publish, once for all
// workers, when any of ws has filtered subscribers of key; nil otherwise,
// which costs one atomic load when no connection of the node filters.
func (e *Engine) filterMessage(key chanKey, ws []*worker, event, data, userID string, m *protocol.V2Meta) *filter.Message {
	if e.filteredSubs.Load() == 0 {
		return nil
	}
	found := false
	for _, w := range ws {
		if w.hasFiltered(key) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	msg := &filter.Message{Event: event, Channel: key.name, UserID: userID,
		MessageID: m.MessageID, StreamID: m.StreamID, Serial: m.Serial, HasSerial: m.HasSerial, Extras: m.Extras}
	if m.ObjectData {
		msg.Data = []byte(data)
	} else {
		msg.DataString, msg.DataIsString = data, true
	}
	msg.Tags = decodeTags(m.Tags)
	return msg
}

// decodeTags reads a publish's tags, a flat JSON object of strings, with
// one string for the whole object whose substrings are the keys and
// values (a key or value with escapes gets its own): a few allocations
// per publish however many tags. nil when absent or malformed.
func decodeTags(raw []byte) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	s := string(raw)
	tags := make(map[string]string, 4)
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return nil
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return tags
	}
	for {
		k, j, ok := jsonStringAt(s, i)
		if !ok {
			return nil
		}
		j = skipSpace(s, j)
		if j >= len(s) || s[j] != ':' {
			return nil
		}
		v, j2, ok := jsonStringAt(s, skipSpace(s, j+1))
		if !ok {
			return nil
		}
		tags[k] = v
		i = skipSpace(s, j2)
		switch {
		case i < len(s) && s[i] == ',':
			i = skipSpace(s, i+1)
		case i < len(s) && s[i] == '}':
			return tags
		default:
			return nil
		}
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// jsonStringAt reads the JSON string starting at s[i] and returns its
// value and the index after it.
func jsonStringAt(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	escaped := false
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			if !escaped {
				return s[i+1 : j], j + 1, true
			}
			var v string
			if json.Unmarshal([]byte(s[i:j+1]), &v) != nil {
				return "", 0, false
			}
			return v, j + 1, true
		}
	}
	return "", 0, false
}

// messageOfPayload reads the filter view back from an encoded V2 frame (a
// stored one for replays and rewinds). A frame that does not decode
// gives a message no tag or expression filter accepts.
func messageOfPayload(payload []byte) *filter.Message {
	var f struct {
		Event     string            `json:"event"`
		Channel   string            `json:"channel"`
		Data      json.RawMessage   `json:"data"`
		Name      string            `json:"name"`
		UserID    string            `json:"user_id"`
		Tags      map[string]string `json:"tags"`
		MessageID string            `json:"message_id"`
		StreamID  string            `json:"stream_id"`
		Serial    *uint64           `json:"serial"`
		Extras    json.RawMessage   `json:"extras"`
	}
	if json.Unmarshal(payload, &f) != nil {
		return &filter.Message{Data: []byte("{")} // an undecodable document: expressions fail closed
	}
	msg := &filter.Message{Event: f.Event, Channel: f.Channel, Data: f.Data, Name: f.Name, UserID: f.UserID,
		Tags: f.Tags, MessageID: f.MessageID, StreamID: f.StreamID, Extras: f.Extras}
	if f.Serial != nil {
		msg.Serial, msg.HasSerial = *f.Serial, true
	}
	return msg
}

// replayFilter decides, message by message, what a replay or rewind sends
// a connection on one channel: its filter (if subscribed with one) and,
// with tag emission off, the stored frame without its tags.
type replayFilter struct {
	pred      *filter.Predicate
	stripTags bool
}

func (w *worker) replayFilterOf(k chanKey, c *Conn) replayFilter {
	return replayFilter{pred: w.predicateOf(k, c), stripTags: w.e.opts.V2.StripTags}
}

// frame returns the WebSocket frame to send for a stored frame and
// whether to send it at all; frameBytes is the stored WebSocket frame.
func (rf replayFilter) frame(frameBytes []byte) ([]byte, bool) {
	if rf.pred == nil && !rf.stripTags {
		return frameBytes, true
	}
	payload, ok := framePayload(frameBytes)
	if !ok {
		return frameBytes, true
	}
	if rf.pred != nil && !rf.pred.Match(messageOfPayload(payload)) {
		return nil, false
	}
	if rf.stripTags {
		if s, ok := withoutTags(payload); ok {
			return protocol.AppendFrame(nil, protocol.OpText, s), true
		}
	}
	return frameBytes, true
}

// framePayload is the payload of one unmasked server text frame.
func framePayload(b []byte) ([]byte, bool) {
	if len(b) < 2 {
		return nil, false
	}
	n, h := int(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return nil, false
		}
		n, h = int(b[2])<<8|int(b[3]), 4
	case 127:
		if len(b) < 10 {
			return nil, false
		}
		n = 0
		for _, x := range b[2:10] {
			n = n<<8 | int(x)
		}
		h = 10
	}
	if len(b)-h != n {
		return nil, false
	}
	return b[h:], true
}

// withoutTags is a V2 frame this server encoded with its top-level
// `tags` member removed (tag emission off). The member is found by its
// key: every string before it is JSON-escaped, so `,"tags":{` cannot
// occur inside one; its value is a flat object of strings.
func withoutTags(payload []byte) ([]byte, bool) {
	const key = `,"tags":{`
	i := bytes.Index(payload, []byte(key))
	if i < 0 {
		return payload, false
	}
	end, ok := objectEnd(payload, i+len(key)-1)
	if !ok {
		return payload, false
	}
	out := make([]byte, 0, len(payload)-(end-i))
	out = append(out, payload[:i]...)
	return append(out, payload[end:]...), true
}

// objectEnd returns the index just after the JSON object opening at
// b[start] ('{'), skipping strings.
func objectEnd(b []byte, start int) (int, bool) {
	depth, inStr := 0, false
	for i := start; i < len(b); i++ {
		ch := b[i]
		switch {
		case inStr && ch == '\\':
			i++
		case ch == '"':
			inStr = !inStr
		case inStr:
		case ch == '{':
			depth++
		case ch == '}':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

// wireMeta is m as V2 subscribers receive it: without the tags when tag
// emission is off. It returns m itself otherwise, so the common path
// copies nothing.
func (e *Engine) wireMeta(m *protocol.V2Meta) *protocol.V2Meta {
	if !e.opts.V2.StripTags || len(m.Tags) == 0 {
		return m
	}
	w := *m
	w.Tags = nil
	return &w
}

// encodeV2 encodes a V2 broadcast frame with refs references.
func (e *Engine) encodeV2(key chanKey, event, data, userID string, m *protocol.V2Meta, refs int32) *frame {
	f := e.frames.sized(len(event) + len(key.name) + len(data) + len(userID) +
		len(m.Tags) + len(m.Extras) + len(m.MessageID) + len(m.StreamID) + v2Slack)
	return f.seal(protocol.AppendV2Broadcast(f.payload(), event, key.name, data, userID, m), refs)
}

// maxRewindScan is how many rows a filtered rewind reads per row it may
// return (Sockudo scans up to max_page_size × 16).
const maxRewindScan = 16

// rewindScan is the range of serials a filtered rewind read, in its
// direction, for truncated_by_retention.
type rewindScan struct{ first, last uint64 }

// retention reports whether a filtered rewind was cut by retention: by
// count, it reached the oldest retained row without its count of
// matches; by time, the window began before the oldest retained row.
func (s rewindScan) retention(st HistoryState, byCount, short bool) bool {
	if st.RetainedMessages == 0 {
		return true
	}
	if byCount {
		return short && s.last == st.OldestSerial && st.OldestSerial > 1
	}
	return st.OldestSerial > 1 && s.first == st.OldestSerial
}

// readRewind reads a rewind's history. Without a filter it is one page;
// with one it reads on, keeping the rows pred accepts, until q.Limit of
// them, the end of the history or maxRewindScan × q.Limit rows, so that a
// selective filter still gets up to its count.
func (e *Engine) readRewind(ctx context.Context, q HistoryQuery, pred *filter.Predicate) (HistoryPage, rewindScan, error) {
	store := e.opts.V2.History.Store
	if pred == nil {
		p, err := store.Read(ctx, q)
		return p, rewindScan{}, err
	}
	var out HistoryPage
	var scan rewindScan
	scanned := 0
	for {
		page, err := store.Read(ctx, q)
		if err != nil {
			return out, scan, err
		}
		out.State = page.State
		for _, it := range page.Items {
			if scanned == 0 {
				scan.first = it.Serial
			}
			scanned++
			scan.last = it.Serial
			if !pred.Match(messageOfPayload(it.Payload)) {
				continue
			}
			if len(out.Items) == q.Limit {
				out.HasMore = true
				return out, scan, nil
			}
			out.Items = append(out.Items, it)
		}
		out.HasMore = page.HasMore
		if !page.HasMore || len(page.Items) == 0 || scanned >= maxRewindScan*q.Limit {
			return out, scan, nil
		}
		next := page.Items[len(page.Items)-1].Serial
		if q.NewestFirst {
			if next <= 1 {
				return out, scan, nil
			}
			next--
			q.EndSerial = &next
		} else {
			next++
			q.StartSerial = &next
		}
	}
}
