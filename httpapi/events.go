package httpapi

import (
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/idempotency"
)

// channelAttrs are the counts reported for one channel. Pointers keep a
// requested zero in the output while leaving unrequested counts out.
type channelAttrs struct {
	// Protocol V2 publishes (see engine.Event.WantAcks) also report the
	// message's acknowledgement id and serial.
	AcknowledgementID string  `json:"acknowledgement_id,omitempty"`
	MessageSerial     *uint64 `json:"message_serial,omitempty"`
	// HistorySerial is the serial the message was stored under in
	// durable history (the same serial; only with history on).
	HistorySerial     *uint64 `json:"history_serial,omitempty"`
	UserCount         *int    `json:"user_count,omitempty"`
	SubscriptionCount *int    `json:"subscription_count,omitempty"`
}

// withAck adds ack's id and serial to a.
func (a channelAttrs) withAck(ack engine.PublishAck) channelAttrs {
	a.AcknowledgementID = ack.MessageID
	if ack.HasSerial {
		serial := ack.Serial
		a.MessageSerial = &serial
		if ack.Stored {
			a.HistorySerial = &serial
		}
	}
	return a
}

// postEvents serves POST /apps/{app_id}/events. With idempotency on, a
// key (body idempotency_key, else X-Idempotency-Key) makes a duplicate
// get the first response, and extras.idempotencyKey skips the channels
// already published under it (idempotency.go).
func (s *Server) postEvents(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	var b eventBody
	if err := decodeEvent(ctx.PostBody(), &b); err != nil {
		return badRequest("invalid JSON body: " + err.Error())
	}
	l := limitsOf(app)
	l.keyLen = s.keyLen()
	ev, aerr := l.event(&b, l.channels)
	if aerr != nil {
		return aerr
	}
	out := eventsOut{info: parseInfo(b.Info), acks: ev.WantAcks, channels: ev.Channels}
	if !s.idemOn(app) {
		return s.publishEvents(ctx, app, ev, out, nil)
	}
	key := ""
	if ev.V2 != nil {
		key = ev.V2.IdempotencyKey
	}
	if key == "" {
		if key, aerr = s.headerKey(ctx); aerr != nil {
			return aerr
		}
	}
	publish := func() *apiError {
		cc, aerr := s.claimChannels(ctx, app, ev)
		if aerr != nil {
			return aerr
		}
		if aerr = s.publishEvents(ctx, app, ev, out, cc); aerr != nil {
			s.releaseChannels(cc)
			return aerr
		}
		s.commitChannels(cc, ev.Acks)
		return nil
	}
	if key == "" {
		return publish()
	}
	return s.once(ctx, app, requestKey(app, key), eventFingerprint(ev, true), publish)
}

// eventsOut is what an /events response reports: the counts info asks
// for, the acknowledgements when asked (V2), for every requested channel.
type eventsOut struct {
	info     infoFlags
	acks     bool
	channels []string
}

// publishEvents publishes ev (its channels not already published under
// their channel keys, cc) and writes the response.
func (s *Server) publishEvents(ctx *fasthttp.RequestCtx, app *engine.App, ev *engine.Event, o eventsOut, cc *channelClaims) *apiError {
	if len(ev.Channels) > 0 {
		// One unit per channel, as Soketi counts and Pusher bills.
		if aerr := s.takeApp(ctx, LimitBackendEvents, app.ID, len(ev.Channels), app.MaxBackendEventsPerSecond); aerr != nil {
			return aerr
		}
		if err := s.eng.Publish(s.ctx, app, ev); err != nil {
			return engineError(err)
		}
	}
	if !o.info.userCount && !o.info.subscriptionCount && !o.acks {
		writeEmpty(ctx)
		return nil
	}
	// Counts are read after publishing, as Pusher reports them.
	out := make(map[string]channelAttrs, len(o.channels))
	for i, ch := range o.channels {
		attrs, aerr := s.attrs(ctx, app, ch, o.info)
		if aerr != nil {
			return aerr
		}
		if o.acks {
			if cc == nil && i < len(ev.Acks) {
				attrs = attrs.withAck(ev.Acks[i])
			} else if ack, ok := findAck(ev.Acks, ch); ok {
				attrs = attrs.withAck(ack)
			} else if cc != nil {
				if ack, ok := findAck(cc.replayed, ch); ok {
					attrs = attrs.withAck(ack)
				}
			}
		}
		out[ch] = attrs
	}
	writeJSON(ctx, http.StatusOK, struct {
		Channels map[string]channelAttrs `json:"channels"`
	}{out})
	return nil
}

// batchBody is the body of POST /batch_events.
type batchBody struct {
	Batch []eventBody `json:"batch"`
}

// getBatch returns a pooled, zeroed batch body. The decoder fills the
// existing capacity instead of growing a slice by reflection item by item,
// and zeroing matters: it decodes into old elements, so a member absent from
// this request (socket_id) would otherwise keep the last request's value.
func (s *Server) getBatch() *batchBody {
	b, _ := s.batches.Get().(*batchBody)
	if b == nil {
		return &batchBody{Batch: make([]eventBody, 0, 16)}
	}
	clear(b.Batch[:cap(b.Batch)])
	b.Batch = b.Batch[:0]
	return b
}

// putBatch pools b without its events: pooled, their strings (up to the
// payload limit each) would stay reachable until the pool is collected,
// which an idle server does not do for minutes.
func (s *Server) putBatch(b *batchBody) {
	clear(b.Batch[:cap(b.Batch)])
	b.Batch = b.Batch[:0]
	s.batches.Put(b)
}

// postBatchEvents serves POST /apps/{app_id}/batch_events. Every item is
// validated before any is published, so a refused batch publishes nothing.
// With idempotency on, X-Idempotency-Key covers the whole batch and an
// item's idempotency_key the item: a duplicate item is skipped.
func (s *Server) postBatchEvents(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	b := s.getBatch()
	defer s.putBatch(b)
	if err := decodeBatch(ctx.PostBody(), b); err != nil {
		return badRequest("invalid JSON body: " + err.Error())
	}
	if len(b.Batch) == 0 {
		return badRequest("batch is required: 1 to " + strconv.Itoa(limitsOf(app).batch) + " events")
	}
	l := limitsOf(app)
	l.keyLen = s.keyLen()
	if len(b.Batch) > l.batch {
		return badRequest("batch too large: at most " + strconv.Itoa(l.batch) + " events")
	}
	events := make([]*engine.Event, len(b.Batch))
	slots := make([]eventSlot, len(b.Batch))
	withInfo := false
	for i := range b.Batch {
		ev, aerr := l.eventIn(&b.Batch[i], 1, &slots[i])
		if aerr != nil {
			aerr.msg = "batch[" + strconv.Itoa(i) + "]: " + aerr.msg
			return aerr
		}
		events[i] = ev
		f := parseInfo(b.Batch[i].Info)
		withInfo = withInfo || f.userCount || f.subscriptionCount || ev.WantAcks
	}
	if !s.idemOn(app) {
		return s.publishBatch(ctx, app, b, events, withInfo, nil)
	}
	key, aerr := s.headerKey(ctx)
	if aerr != nil {
		return aerr
	}
	publish := func() *apiError { return s.publishBatchOnce(ctx, app, b, events, withInfo) }
	if key == "" {
		return publish()
	}
	parts := make([]string, len(events))
	for i, ev := range events {
		parts[i] = eventFingerprint(ev, true)
	}
	return s.once(ctx, app, batchKey(app, key), idempotency.Fingerprint(parts...), publish)
}

// batchClaims are the claims of a batch's items: by request key, and by
// channel key.
type batchClaims struct {
	items    []idempotency.Claim
	fps      []string
	channels []*channelClaims // by item, nil without a channel key
	skip     []bool           // by item: a duplicate
}

// publishBatchOnce publishes the items whose keys are new and skips the
// duplicates; a refusal of any item releases every claim.
func (s *Server) publishBatchOnce(ctx *fasthttp.RequestCtx, app *engine.App, b *batchBody, events []*engine.Event, withInfo bool) *apiError {
	bc := &batchClaims{channels: make([]*channelClaims, len(events)), skip: make([]bool, len(events))}
	aerr := s.claimItems(ctx, app, events, bc)
	if aerr == nil {
		aerr = s.publishBatch(ctx, app, b, events, withInfo, bc)
	}
	if aerr != nil {
		for i := range bc.items {
			s.release(&bc.items[i])
		}
		for _, cc := range bc.channels {
			s.releaseChannels(cc)
		}
		return aerr
	}
	for i := range bc.items {
		if err := s.idem.Commit(s.ctx, &bc.items[i], bc.fps[i], http.StatusOK, []byte("{}")); err != nil {
			s.storeFailed("commit", err)
		}
	}
	for i, cc := range bc.channels {
		s.commitChannels(cc, events[i].Acks)
	}
	return nil
}

// claimItems claims each item's idempotency_key and channel key. An item
// repeating the key of an earlier item of the same batch is a duplicate
// of it.
func (s *Server) claimItems(ctx *fasthttp.RequestCtx, app *engine.App, events []*engine.Event, bc *batchClaims) *apiError {
	seen := map[string]string{}
	for i, ev := range events {
		if ev.V2 == nil {
			continue
		}
		if k := ev.V2.IdempotencyKey; k != "" {
			fp := eventFingerprint(ev, true)
			if first, ok := seen[k]; ok {
				if first != fp {
					return badRequest("batch[" + strconv.Itoa(i) + "]: " + msgConflict)
				}
				bc.skip[i] = true
				continue
			}
			seen[k] = fp
			c, aerr := s.begin(ctx, app, requestKey(app, k), fp)
			if aerr != nil {
				aerr.msg = "batch[" + strconv.Itoa(i) + "]: " + aerr.msg
				return aerr
			}
			if c.Outcome == idempotency.Replay {
				bc.skip[i] = true
				continue
			}
			bc.items, bc.fps = append(bc.items, c), append(bc.fps, fp)
		}
		cc, aerr := s.claimChannels(ctx, app, ev)
		if aerr != nil {
			aerr.msg = "batch[" + strconv.Itoa(i) + "]: " + aerr.msg
			return aerr
		}
		bc.channels[i] = cc
	}
	return nil
}

// publishBatch publishes the batch's items but the skipped ones (bc) and
// writes the response; a skipped item reports {} unless its channel's
// first acknowledgement is known.
func (s *Server) publishBatch(ctx *fasthttp.RequestCtx, app *engine.App, b *batchBody, events []*engine.Event, withInfo bool, bc *batchClaims) *apiError {
	skipped := func(i int) bool { return bc != nil && (bc.skip[i] || len(events[i].Channels) == 0) }
	n := 0
	for i := range events {
		if !skipped(i) {
			n++
		}
	}
	// A batch counts its events; refused, none is published.
	if n > 0 {
		if aerr := s.takeApp(ctx, LimitBackendEvents, app.ID, n, app.MaxBackendEventsPerSecond); aerr != nil {
			return aerr
		}
	}
	for i, ev := range events {
		if skipped(i) {
			continue
		}
		if err := s.eng.Publish(s.ctx, app, ev); err != nil {
			return engineError(err)
		}
	}
	if !withInfo {
		writeEmpty(ctx)
		return nil
	}
	out := make([]channelAttrs, len(events))
	for i, ev := range events {
		if bc != nil && bc.skip[i] {
			continue
		}
		if bc != nil && bc.channels[i] != nil && len(ev.Channels) == 0 {
			if len(bc.channels[i].replayed) > 0 && bc.channels[i].report {
				out[i] = out[i].withAck(bc.channels[i].replayed[0])
			}
			continue
		}
		attrs, aerr := s.attrs(ctx, app, ev.Channels[0], parseInfo(b.Batch[i].Info))
		if aerr != nil {
			return aerr
		}
		if len(ev.Acks) > 0 && (bc == nil || bc.channels[i] == nil || bc.channels[i].report) {
			attrs = attrs.withAck(ev.Acks[0])
		}
		out[i] = attrs
	}
	writeJSON(ctx, http.StatusOK, struct {
		Batch []channelAttrs `json:"batch"`
	}{out})
	return nil
}

// attrs reads the counts info asks for on ch. user_count is reported on
// presence channels only; subscription_count on every channel type.
func (s *Server) attrs(ctx *fasthttp.RequestCtx, app *engine.App, ch string, info infoFlags) (channelAttrs, *apiError) {
	var a channelAttrs
	if !info.userCount && !info.subscriptionCount {
		return a, nil
	}
	ci, err := s.eng.Channel(s.ctx, app, ch)
	if err != nil {
		return a, engineError(err)
	}
	if info.userCount && isPresence(ch) {
		a.UserCount = &ci.UserCount
	}
	if info.subscriptionCount {
		a.SubscriptionCount = &ci.SubscriptionCount
	}
	return a, nil
}
