package protocol

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// ResumePosition is one channel's position in a sockudo:resume request.
// StreamID is "" for the legacy channel_serials form.
type ResumePosition struct {
	Channel       string
	StreamID      string
	Serial        uint64
	LastMessageID string
}

// MaxResumeChannels bounds the channels one resume may name.
const MaxResumeChannels = 1000

// Errors of DecodeResume.
var (
	ErrResumeEmpty = errors.New("no channel recovery positions provided")
	errResumeShape = errors.New("resume data must be an object with channel_positions")
)

// DecodeResume decodes the data of sockudo:resume (sockudo-v2.md §8.1):
// an object, or a JSON string holding one (the official JS client sends a
// string), with channel_positions {channel: {stream_id?, serial,
// last_message_id?}} or the legacy channel_serials {channel: serial}.
// serial may be a number or a decimal string (the JS client sends strings
// beyond 2^53). Positions come back sorted by channel; an empty map gives
// ErrResumeEmpty.
func DecodeResume(data []byte, max int) ([]ResumePosition, error) {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, errResumeShape
		}
		data = []byte(s)
	}
	var req struct {
		Positions map[string]json.RawMessage `json:"channel_positions"`
		Serials   map[string]json.RawMessage `json:"channel_serials"`
	}
	if len(data) == 0 || data[0] != '{' {
		return nil, errResumeShape
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, errResumeShape
	}
	n := len(req.Positions) + len(req.Serials)
	if n == 0 {
		return nil, ErrResumeEmpty
	}
	if n > max {
		return nil, errors.New("too many channels in one resume (max " + strconv.Itoa(max) + ")")
	}
	out := make([]ResumePosition, 0, n)
	for ch, raw := range req.Positions {
		var p struct {
			StreamID      *string         `json:"stream_id"`
			Serial        json.RawMessage `json:"serial"`
			LastMessageID *string         `json:"last_message_id"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, errors.New("channel_positions." + ch + " must be an object with a serial")
		}
		serial, err := parseSerial(p.Serial)
		if err != nil {
			return nil, errors.New("channel_positions." + ch + ".serial " + err.Error())
		}
		pos := ResumePosition{Channel: ch, Serial: serial}
		if p.StreamID != nil {
			pos.StreamID = *p.StreamID
		}
		if p.LastMessageID != nil {
			pos.LastMessageID = *p.LastMessageID
		}
		out = append(out, pos)
	}
	for ch, raw := range req.Serials {
		if _, dup := req.Positions[ch]; dup {
			continue
		}
		serial, err := parseSerial(raw)
		if err != nil {
			return nil, errors.New("channel_serials." + ch + " " + err.Error())
		}
		out = append(out, ResumePosition{Channel: ch, Serial: serial})
	}
	for _, p := range out {
		if p.Channel == "" {
			return nil, errors.New("empty channel name in resume")
		}
	}
	slices.SortFunc(out, func(a, b ResumePosition) int { return strings.Compare(a.Channel, b.Channel) })
	return out, nil
}

// parseSerial reads a serial: a non-negative integer or its decimal string.
func parseSerial(raw json.RawMessage) (uint64, error) {
	s := strings.TrimSpace(string(raw))
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if json.Unmarshal(raw, &str) != nil {
			return 0, errors.New("must be an unsigned integer")
		}
		s = str
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("must be an unsigned integer")
	}
	return v, nil
}
