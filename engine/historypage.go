package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sockudo/sockudo-go/protocol"
)

// HistoryRequest is a page request as the HTTP API and the WebSocket
// channel_history frame make it. With a Cursor the direction and bounds
// are the cursor's.
type HistoryRequest struct {
	Channel     string
	Limit       int // 0 → history.max_page_size; larger is capped
	NewestFirst bool
	Bounds      protocol.HistoryBounds
	Cursor      string
}

// ErrBadHistoryRequest wraps what is wrong with a request (a cursor of
// another app or channel, an unreadable cursor).
var ErrBadHistoryRequest = errors.New("bad history request")

// HistoryPageJSON reads a page and encodes it as Sockudo's page body
// (sockudo-v2.md §10.1), which the HTTP API and the WebSocket share.
func (e *Engine) HistoryPageJSON(ctx context.Context, app *App, r HistoryRequest) ([]byte, error) {
	q := HistoryQuery{Channel: r.Channel, Limit: r.Limit, NewestFirst: r.NewestFirst}
	if r.Cursor != "" {
		c, err := protocol.DecodeCursor(r.Cursor)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadHistoryRequest, err)
		}
		if c.AppID != app.ID || c.Channel != r.Channel {
			return nil, fmt.Errorf("%w: the cursor belongs to another channel", ErrBadHistoryRequest)
		}
		r.NewestFirst, r.Bounds = c.Direction == protocol.HistoryNewestFirst, c.Bounds
		q.NewestFirst, q.After, q.StreamID = r.NewestFirst, c.Serial, c.StreamID
	}
	q.StartSerial, q.EndSerial, q.StartTimeMS, q.EndTimeMS = r.Bounds.StartSerial, r.Bounds.EndSerial, r.Bounds.StartTimeMS, r.Bounds.EndTimeMS
	page, err := e.ReadHistory(ctx, app, q)
	if err != nil {
		return nil, err
	}
	limit := r.Limit
	if limit <= 0 || limit > e.HistoryMaxPageSize() {
		limit = e.HistoryMaxPageSize()
	}
	var next *string
	if page.HasMore && len(page.Items) > 0 {
		dir := protocol.HistoryOldestFirst
		if r.NewestFirst {
			dir = protocol.HistoryNewestFirst
		}
		s := protocol.EncodeCursor(&protocol.HistoryCursor{Version: 1, AppID: app.ID, Channel: r.Channel,
			StreamID: page.State.StreamID, Serial: page.Items[len(page.Items)-1].Serial, Direction: dir, Bounds: r.Bounds})
		next = &s
	}
	return json.Marshal(pageBody(&page, r, limit, next))
}

type historyItem struct {
	StreamID         string          `json:"stream_id"`
	Serial           uint64          `json:"serial"`
	PublishedAtMS    int64           `json:"published_at_ms"`
	MessageID        *string         `json:"message_id"`
	EventName        *string         `json:"event_name"`
	OperationKind    string          `json:"operation_kind"`
	PayloadSizeBytes int             `json:"payload_size_bytes"`
	Message          json.RawMessage `json:"message"`
}

type historyContinuity struct {
	StreamID             *string `json:"stream_id"`
	OldestSerial         *uint64 `json:"oldest_available_serial"`
	NewestSerial         *uint64 `json:"newest_available_serial"`
	OldestAtMS           *int64  `json:"oldest_available_published_at_ms"`
	NewestAtMS           *int64  `json:"newest_available_published_at_ms"`
	RetainedMessages     int64   `json:"retained_messages"`
	RetainedBytes        int64   `json:"retained_bytes"`
	Complete             bool    `json:"complete"`
	TruncatedByRetention bool    `json:"truncated_by_retention"`
}

type historyStreamState struct {
	StreamID            *string `json:"stream_id"`
	DurableState        string  `json:"durable_state"`
	RecoveryAllowed     bool    `json:"recovery_allowed"`
	ResetRequired       bool    `json:"reset_required"`
	Reason              *string `json:"reason"`
	NodeID              *string `json:"node_id"`
	LastTransitionAtMS  *int64  `json:"last_transition_at_ms"`
	AuthoritativeSource string  `json:"authoritative_source"`
	ObservedSource      string  `json:"observed_source"`
}

type historyPageBody struct {
	Items       []historyItem          `json:"items"`
	Direction   string                 `json:"direction"`
	Limit       int                    `json:"limit"`
	HasMore     bool                   `json:"has_more"`
	NextCursor  *string                `json:"next_cursor"`
	Bounds      protocol.HistoryBounds `json:"bounds"`
	Continuity  historyContinuity      `json:"continuity"`
	StreamState historyStreamState     `json:"stream_state"`
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func pageBody(p *HistoryPage, r HistoryRequest, limit int, next *string) historyPageBody {
	b := historyPageBody{Items: make([]historyItem, 0, len(p.Items)), Direction: protocol.HistoryOldestFirst,
		Limit: limit, HasMore: p.HasMore, NextCursor: next, Bounds: r.Bounds}
	if r.NewestFirst {
		b.Direction = protocol.HistoryNewestFirst
	}
	for i := range p.Items {
		it := &p.Items[i]
		b.Items = append(b.Items, historyItem{StreamID: it.StreamID, Serial: it.Serial, PublishedAtMS: it.PublishedAtMS,
			MessageID: optStr(it.MessageID), EventName: optStr(it.EventName), OperationKind: "append",
			PayloadSizeBytes: len(it.Payload), Message: it.Payload})
	}
	b.Continuity = continuityOf(&p.State, p.HasMore)
	b.StreamState = streamStateOf(&p.State)
	return b
}

func continuityOf(st *HistoryState, hasMore bool) historyContinuity {
	c := historyContinuity{StreamID: optStr(st.StreamID), RetainedMessages: st.RetainedMessages, RetainedBytes: st.RetainedBytes}
	if st.RetainedMessages > 0 {
		c.OldestSerial, c.NewestSerial = &st.OldestSerial, &st.NewestSerial
		c.OldestAtMS, c.NewestAtMS = &st.OldestAtMS, &st.NewestAtMS
	}
	// Entries before the oldest kept one existed: retention (or a purge)
	// removed them.
	c.TruncatedByRetention = st.RetainedMessages > 0 && st.OldestSerial > 1 ||
		st.RetainedMessages == 0 && st.Head() > 0
	c.Complete = !c.TruncatedByRetention && !hasMore
	return c
}

func streamStateOf(st *HistoryState) historyStreamState {
	s := historyStreamState{StreamID: optStr(st.StreamID), DurableState: "healthy", RecoveryAllowed: true,
		Reason: optStr(st.Reason), AuthoritativeSource: "durable_store", ObservedSource: "durable_store"}
	if st.ChangedAtMS != 0 {
		s.LastTransitionAtMS = &st.ChangedAtMS
	}
	if st.Degraded {
		s.DurableState, s.RecoveryAllowed, s.ResetRequired = "degraded", false, true
	}
	return s
}

// HistoryStateJSON encodes GET …/history/state: {channel, stream:{…}}.
func (e *Engine) HistoryStateJSON(ctx context.Context, app *App, channel string) ([]byte, error) {
	st, err := e.HistoryState(ctx, app, channel)
	if err != nil {
		return nil, err
	}
	return json.Marshal(stateBody(channel, &st))
}

type historyStateBody struct {
	Channel string `json:"channel"`
	Stream  struct {
		StreamID   *string            `json:"stream_id"`
		NextSerial uint64             `json:"next_serial"`
		Retained   historyContinuity  `json:"retained"`
		State      historyStreamState `json:"state"`
	} `json:"stream"`
}

func stateBody(channel string, st *HistoryState) historyStateBody {
	var b historyStateBody
	b.Channel = channel
	b.Stream.StreamID, b.Stream.NextSerial = optStr(st.StreamID), st.NextSerial
	b.Stream.Retained = continuityOf(st, false)
	b.Stream.State = streamStateOf(st)
	return b
}

// ResetHistoryJSON resets a channel's stream and encodes the new state.
func (e *Engine) ResetHistoryJSON(ctx context.Context, app *App, channel, reason string) ([]byte, error) {
	st, err := e.ResetHistory(ctx, app, channel, reason)
	if err != nil {
		return nil, err
	}
	b := stateBody(channel, &st)
	return json.Marshal(struct {
		historyStateBody
		Reset bool `json:"reset"`
	}{b, true})
}
