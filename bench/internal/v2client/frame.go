// Package v2client is a Sockudo Protocol V2 client for the bench, written
// from shared/reference/sockudo-v2.md §1–§5 and §8 and following the flow
// of the official @sockudo/client as e2e/lib/v2client.mjs reproduces it:
// connect with ?protocol=2, subscribe, keep the channel's recovery
// position from every frame carrying channel + serial, drop frames whose
// message_id was seen (an LRU of 1,000), and on every reconnect re-send
// sockudo:subscribe and then one sockudo:resume whose data is a JSON
// string {"channel_positions":{ch:{stream_id,serial,last_message_id}}}.
//
// Unlike the official client it also records every serial the server
// sent, before deduplication, so the bench can prove that a resume
// delivered each missed message exactly once.
package v2client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Serial is a u64 serial as V2 frames carry it: a JSON number, or a
// decimal string (the official client sends serials above 2^53 so).
type Serial struct {
	V  uint64
	OK bool // present on the frame
}

// UnmarshalJSON accepts a number or a decimal string; null is absent.
func (s *Serial) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	b = bytes.Trim(b, `"`)
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("serial %q: %w", b, err)
	}
	s.V, s.OK = v, true
	return nil
}

// Frame is the part of a server frame the client acts on.
type Frame struct {
	Event     string          `json:"event"`
	Channel   string          `json:"channel"`
	Data      json.RawMessage `json:"data"`
	MessageID string          `json:"message_id"`
	StreamID  string          `json:"stream_id"`
	Serial    Serial          `json:"serial"`
}

// ParseFrame decodes one text frame.
func ParseFrame(p []byte) (*Frame, error) {
	var f Frame
	if err := json.Unmarshal(p, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// DataInto decodes the frame's data into v: data that is a JSON string
// (connection_established, resume_*) is decoded twice, as the client does.
func (f *Frame) DataInto(v any) error {
	d := f.Data
	if len(d) > 0 && d[0] == '"' {
		var s string
		if err := json.Unmarshal(d, &s); err != nil {
			return err
		}
		d = []byte(s)
	}
	return json.Unmarshal(d, v)
}

// Position is a channel's recovery position.
type Position struct {
	StreamID      string `json:"stream_id,omitempty"`
	Serial        uint64 `json:"serial"`
	LastMessageID string `json:"last_message_id,omitempty"`
}

// SubscribeMessage is sockudo:subscribe for a public channel.
func SubscribeMessage(channel string) []byte {
	b, _ := json.Marshal(map[string]any{"event": "sockudo:subscribe", "data": map[string]string{"auth": "", "channel": channel}})
	return b
}

// ResumeMessage is sockudo:resume with data as the JSON string the
// official client sends.
func ResumeMessage(positions map[string]Position) []byte {
	inner, _ := json.Marshal(map[string]any{"channel_positions": positions})
	b, _ := json.Marshal(map[string]any{"event": "sockudo:resume", "data": string(inner)})
	return b
}

// Pong answers a server sockudo:ping.
var Pong = []byte(`{"event":"sockudo:pong","data":{}}`)

// ResumeSuccess is the data of sockudo:resume_success.
type ResumeSuccess struct {
	Recovered []struct {
		Channel  string    `json:"channel"`
		Source   string    `json:"source"`
		Replayed int       `json:"replayed"`
		Position *struct { // null when nothing was replayed
			StreamID      string `json:"stream_id"`
			Serial        Serial `json:"serial"`
			LastMessageID string `json:"last_message_id"`
		} `json:"position"`
	} `json:"recovered"`
	Failed []ResumeFailure `json:"failed"`
}

// ResumeFailure is one failed channel (resume_failed data, failed[] item).
type ResumeFailure struct {
	Channel string `json:"channel"`
	Code    string `json:"code"`
	Reason  string `json:"reason"`
}
