package protocol

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// HistoryBounds are a history request's inclusive bounds; nil = none.
type HistoryBounds struct {
	StartSerial *uint64 `json:"start_serial"`
	EndSerial   *uint64 `json:"end_serial"`
	StartTimeMS *int64  `json:"start_time_ms"`
	EndTimeMS   *int64  `json:"end_time_ms"`
	// UntilAttach and AttachSerial are set on WebSocket pages asked with
	// until_attach.
	UntilAttach  *bool   `json:"until_attach,omitempty"`
	AttachSerial *uint64 `json:"attach_serial,omitempty"`
}

// HistoryCursor continues a history page (sockudo-v2.md §10.1): Sockudo's
// fields, so cursors minted by either server read the same.
type HistoryCursor struct {
	Version   int           `json:"version"`
	AppID     string        `json:"app_id"`
	Channel   string        `json:"channel"`
	StreamID  string        `json:"stream_id"`
	Serial    uint64        `json:"serial"`
	Direction string        `json:"direction"`
	Bounds    HistoryBounds `json:"bounds"`
}

// History directions as cursors and pages name them.
const (
	HistoryNewestFirst = "newest_first"
	HistoryOldestFirst = "oldest_first"
)

// MaxCursorLen is the longest encoded cursor accepted (16 KiB).
const MaxCursorLen = 16 << 10

// ErrCursor is the error of every cursor that cannot be used.
var ErrCursor = errors.New("invalid history cursor")

// EncodeCursor encodes c as base64url without padding of its JSON.
func EncodeCursor(c *HistoryCursor) string {
	b, _ := json.Marshal(c) // plain fields: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor decodes a cursor and checks its version and direction.
func DecodeCursor(s string) (HistoryCursor, error) {
	var c HistoryCursor
	if len(s) == 0 || len(s) > MaxCursorLen {
		return c, fmt.Errorf("%w: empty or longer than 16 KiB", ErrCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, fmt.Errorf("%w: not base64url", ErrCursor)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrCursor, err)
	}
	if c.Version != 1 {
		return c, fmt.Errorf("%w: unsupported version %d", ErrCursor, c.Version)
	}
	if c.Direction != HistoryNewestFirst && c.Direction != HistoryOldestFirst {
		return c, fmt.Errorf("%w: direction %q", ErrCursor, c.Direction)
	}
	if c.StreamID == "" || c.Serial == 0 {
		return c, fmt.Errorf("%w: no position", ErrCursor)
	}
	return c, nil
}

// ParseHistoryDirection maps Sockudo's direction words to newestFirst;
// "" is the default (newest first).
func ParseHistoryDirection(s string) (newestFirst bool, err error) {
	switch s {
	case "", HistoryNewestFirst, "backwards", "reverse":
		return true, nil
	case HistoryOldestFirst, "forwards", "forward":
		return false, nil
	}
	return false, fmt.Errorf("direction must be newest_first or oldest_first, got %q", s)
}

// ChannelHistoryRequest is a WebSocket channel_history request
// (sockudo-v2.md §10.2). Here start/end are serial aliases, as Sockudo
// reads them on the WebSocket.
type ChannelHistoryRequest struct {
	Channel     string
	Limit       int // 0 = default
	NewestFirst bool
	Cursor      string
	Bounds      HistoryBounds
	UntilAttach bool
}

// MaxWSHistoryLimit caps a WebSocket history page before
// history.max_page_size does.
const MaxWSHistoryLimit = 1000

// DecodeChannelHistory reads a channel_history request's data: an object
// or a JSON string holding one, with its fields at the root or under
// params. A client-sent attach_serial is ignored.
func DecodeChannelHistory(data []byte) (ChannelHistoryRequest, error) {
	var r ChannelHistoryRequest
	var s string
	if json.Unmarshal(data, &s) == nil {
		data = []byte(s)
	}
	type fields struct {
		Channel       *string         `json:"channel"`
		Limit         json.RawMessage `json:"limit"`
		Direction     *string         `json:"direction"`
		Cursor        *string         `json:"cursor"`
		StartSerial   *uint64         `json:"start_serial"`
		Start         *uint64         `json:"start"`
		EndSerial     *uint64         `json:"end_serial"`
		End           *uint64         `json:"end"`
		StartTimeMS   *int64          `json:"start_time_ms"`
		EndTimeMS     *int64          `json:"end_time_ms"`
		UntilAttach   *bool           `json:"until_attach"`
		UntilAttachCC *bool           `json:"untilAttach"`
	}
	var d struct {
		fields
		Params *fields `json:"params"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return r, errors.New("channel_history data must be an object")
	}
	f := d.fields
	if p := d.Params; p != nil {
		f = *p
		if f.Channel == nil {
			f.Channel = d.Channel
		}
	}
	if f.Channel == nil || *f.Channel == "" {
		return r, errors.New("channel_history needs a channel")
	}
	r.Channel = *f.Channel
	if len(f.Limit) > 0 && string(f.Limit) != "null" {
		n, ok := positive(f.Limit)
		if !ok {
			return r, errors.New("limit must be a positive integer")
		}
		r.Limit = min(n, MaxWSHistoryLimit)
	}
	dir := ""
	if f.Direction != nil {
		dir = *f.Direction
	}
	var err error
	if r.NewestFirst, err = ParseHistoryDirection(dir); err != nil {
		return r, err
	}
	if f.Cursor != nil {
		r.Cursor = *f.Cursor
	}
	r.Bounds = HistoryBounds{StartSerial: firstOf(f.StartSerial, f.Start), EndSerial: firstOf(f.EndSerial, f.End),
		StartTimeMS: f.StartTimeMS, EndTimeMS: f.EndTimeMS}
	r.UntilAttach = f.UntilAttach != nil && *f.UntilAttach || f.UntilAttachCC != nil && *f.UntilAttachCC
	if b := r.Bounds; b.StartSerial != nil && b.EndSerial != nil && *b.StartSerial > *b.EndSerial ||
		b.StartTimeMS != nil && b.EndTimeMS != nil && *b.StartTimeMS > *b.EndTimeMS {
		return r, errors.New("start bound is after end bound")
	}
	return r, nil
}

func firstOf[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}
