package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Rewind is a subscribe's rewind request (sockudo-v2.md §9): the last
// Count messages, or those of the last Seconds.
type Rewind struct {
	Count   int
	Seconds int
}

// ErrRewind is Sockudo's message for a rewind it cannot read.
var ErrRewind = errors.New("Invalid rewind option in subscription data")

// maxRewind bounds count and seconds (anything larger is capped later by
// history.max_page_size and retention anyway).
const maxRewind = 1 << 30

// DecodeRewind reads `rewind` from a subscribe's data object: a positive
// integer or numeric string (a count), {count}, {seconds} or
// {duration_seconds}. ok is false when there is none.
func DecodeRewind(data []byte) (r Rewind, ok bool, err error) {
	if !bytes.Contains(data, []byte(`"rewind"`)) {
		return r, false, nil
	}
	var d struct {
		Rewind json.RawMessage `json:"rewind"`
	}
	if json.Unmarshal(data, &d) != nil || len(d.Rewind) == 0 || string(d.Rewind) == "null" {
		return r, false, nil
	}
	if n, ok := positive(d.Rewind); ok {
		return Rewind{Count: n}, true, nil
	}
	var o struct {
		Count           json.RawMessage `json:"count"`
		Seconds         json.RawMessage `json:"seconds"`
		DurationSeconds json.RawMessage `json:"duration_seconds"`
	}
	if json.Unmarshal(d.Rewind, &o) != nil {
		return r, true, ErrRewind
	}
	switch {
	case o.Count != nil:
		n, ok := positive(o.Count)
		if !ok {
			return r, true, ErrRewind
		}
		return Rewind{Count: n}, true, nil
	case o.Seconds != nil || o.DurationSeconds != nil:
		raw := o.Seconds
		if raw == nil {
			raw = o.DurationSeconds
		}
		n, ok := positive(raw)
		if !ok {
			return r, true, ErrRewind
		}
		return Rewind{Seconds: n}, true, nil
	}
	return r, true, ErrRewind
}

// positive reads a positive integer, bare or as a numeric string.
func positive(raw json.RawMessage) (int, bool) {
	s := string(raw)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, false
	}
	return min(n, maxRewind), true
}
