package httpapi

import (
	"net/http"
	"strconv"

	"github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
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

// postEvents serves POST /apps/{app_id}/events.
func (s *Server) postEvents(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	var b eventBody
	if err := json.Unmarshal(ctx.PostBody(), &b); err != nil {
		return badRequest("invalid JSON body: " + err.Error())
	}
	l := limitsOf(app)
	ev, aerr := l.event(&b, l.channels)
	if aerr != nil {
		return aerr
	}
	// One unit per channel, as Soketi counts and Pusher bills.
	if aerr := s.takeApp(ctx, LimitBackendEvents, app.ID, len(ev.Channels), app.MaxBackendEventsPerSecond); aerr != nil {
		return aerr
	}
	if err := s.eng.Publish(s.ctx, app, ev); err != nil {
		return engineError(err)
	}
	info := parseInfo(b.Info)
	if !info.userCount && !info.subscriptionCount && !ev.WantAcks {
		writeEmpty(ctx)
		return nil
	}
	// Counts are read after publishing, as Pusher reports them.
	out := make(map[string]channelAttrs, len(ev.Channels))
	for i, ch := range ev.Channels {
		attrs, aerr := s.attrs(ctx, app, ch, info)
		if aerr != nil {
			return aerr
		}
		if i < len(ev.Acks) {
			attrs = attrs.withAck(ev.Acks[i])
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
func (s *Server) postBatchEvents(ctx *fasthttp.RequestCtx, app *engine.App) *apiError {
	b := s.getBatch()
	defer s.putBatch(b)
	if err := json.Unmarshal(ctx.PostBody(), b); err != nil {
		return badRequest("invalid JSON body: " + err.Error())
	}
	if len(b.Batch) == 0 {
		return badRequest("batch is required: 1 to " + strconv.Itoa(limitsOf(app).batch) + " events")
	}
	l := limitsOf(app)
	if len(b.Batch) > l.batch {
		return badRequest("batch too large: at most " + strconv.Itoa(l.batch) + " events")
	}
	events := make([]*engine.Event, len(b.Batch))
	withInfo := false
	for i := range b.Batch {
		ev, aerr := l.event(&b.Batch[i], 1)
		if aerr != nil {
			aerr.msg = "batch[" + strconv.Itoa(i) + "]: " + aerr.msg
			return aerr
		}
		events[i] = ev
		f := parseInfo(b.Batch[i].Info)
		withInfo = withInfo || f.userCount || f.subscriptionCount || ev.WantAcks
	}
	// A batch counts its events; refused, none is published.
	if aerr := s.takeApp(ctx, LimitBackendEvents, app.ID, len(events), app.MaxBackendEventsPerSecond); aerr != nil {
		return aerr
	}
	for _, ev := range events {
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
		attrs, aerr := s.attrs(ctx, app, ev.Channels[0], parseInfo(b.Batch[i].Info))
		if aerr != nil {
			return aerr
		}
		if len(ev.Acks) > 0 {
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
