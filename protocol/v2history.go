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
