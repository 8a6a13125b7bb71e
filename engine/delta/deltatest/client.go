// Package deltatest decodes delta-compression frames the way the official
// JS client does, for the tests of engine/delta and of the engine: one
// decoder, so both check the wire against the same reading of the client.
package deltatest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/centrifugal/fdelta"

	"github.com/sockudo/sockudo-go/protocol/vcdiff"
)

// Client decodes frames the way the official JS client does
// (client-sdks/sockudo-js/src/core/sockudo.ts, delta/manager.ts,
// delta/channel_state.ts), but applies deltas with the independent
// decoders: fdelta.Apply for fossil, vcdiff.Decode for xdelta3.
type Client struct {
	DefaultAlgo string
	// Channels is the per-channel state; deleting an entry is what the
	// client's own reset does.
	Channels map[string]*channelState
	Resyncs  []string // channels it sent sockudo:delta_sync_error for
	Ignored  int      // deltas dropped for lack of channel state
}

type channelState struct {
	conflation bool
	base       string
	hasBase    bool
	caches     map[string][]cached
}

type cached struct {
	content string
	seq     uint64
}

// NewClient returns a client in the state of one that just connected,
// with fossil as its default algorithm.
func NewClient() *Client {
	return &Client{DefaultAlgo: "fossil", Channels: map[string]*channelState{}}
}

var (
	stripSeq1 = regexp.MustCompile(`,"__delta_seq":\d+`)
	stripSeq2 = regexp.MustCompile(`"__delta_seq":\d+,`)
	stripKey1 = regexp.MustCompile(`,"__conflation_key":"[^"]*"`)
	stripKey2 = regexp.MustCompile(`"__conflation_key":"[^"]*",`)
)

// Receive handles one text frame and returns the frame text the
// application sees: the frame itself, or the one reconstructed from a
// delta. ok is false when the client could not reconstruct: it then either
// asked for a resync (appended to Resyncs) or, holding no state for the
// channel, Ignored the delta as the JS client does.
func (c *Client) Receive(raw []byte) (text string, ok bool, err error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		return "", false, fmt.Errorf("frame is not JSON: %w: %s", err, raw)
	}
	var event, channel string
	json.Unmarshal(env["event"], &event)
	json.Unmarshal(env["channel"], &channel)
	if event == "sockudo:delta" {
		return c.delta(channel, env["data"])
	}
	internal := strings.HasPrefix(event, "pusher") || strings.HasPrefix(event, "sockudo")
	seqRaw, hasSeq := env["__delta_seq"]
	if internal || !hasSeq || channel == "" {
		return string(raw), true, nil
	}
	var seq uint64
	if err := json.Unmarshal(seqRaw, &seq); err != nil {
		return "", false, fmt.Errorf("__delta_seq %s: %w", seqRaw, err)
	}
	var key *string
	if k, ok := env["__conflation_key"]; ok {
		var s string
		if err := json.Unmarshal(k, &s); err != nil {
			return "", false, err
		}
		key = &s
	}
	full := string(raw)
	full = stripSeq1.ReplaceAllString(full, "")
	full = stripSeq2.ReplaceAllString(full, "")
	full = stripKey1.ReplaceAllString(full, "")
	full = stripKey2.ReplaceAllString(full, "")
	st := c.Channels[channel]
	if st == nil {
		st = &channelState{caches: map[string][]cached{}}
		c.Channels[channel] = st
	}
	if key != nil && !st.conflation {
		st.conflation = true
	}
	if st.conflation && key != nil {
		st.push(*key, full, seq)
	} else {
		st.base, st.hasBase = full, true
	}
	return full, true, nil
}

func (st *channelState) push(key, content string, seq uint64) {
	st.caches[key] = append(st.caches[key], cached{content, seq})
	if over := len(st.caches[key]) - 30; over > 0 {
		st.caches[key] = st.caches[key][over:]
	}
}

func (c *Client) delta(channel string, rawData json.RawMessage) (string, bool, error) {
	var d struct {
		Event         string  `json:"event"`
		Delta         string  `json:"delta"`
		Seq           uint64  `json:"seq"`
		Algorithm     string  `json:"algorithm"`
		ConflationKey *string `json:"conflation_key"`
		BaseIndex     *uint64 `json:"base_index"`
	}
	if err := json.Unmarshal(rawData, &d); err != nil {
		return "", false, fmt.Errorf("delta data: %w", err)
	}
	st := c.Channels[channel]
	if st == nil {
		c.Ignored++ // "in-flight delta for an unsubscribed channel"
		return "", false, nil
	}
	var baseText string
	if st.conflation {
		key := ""
		if d.ConflationKey != nil {
			key = *d.ConflationKey
		}
		found := false
		for _, m := range st.caches[key] { // cache.find: the first match
			if d.BaseIndex != nil && m.seq == *d.BaseIndex {
				baseText, found = m.content, true
				break
			}
		}
		if !found {
			c.Resync(channel)
			return "", false, nil
		}
	} else {
		if !st.hasBase {
			c.Resync(channel)
			return "", false, nil
		}
		baseText = st.base
	}
	raw, err := base64.StdEncoding.DecodeString(d.Delta)
	if err != nil {
		return "", false, fmt.Errorf("delta is not standard base64: %w", err)
	}
	algo := d.Algorithm
	if algo == "" {
		algo = c.DefaultAlgo
	}
	var out []byte
	switch algo {
	case "fossil":
		out, err = fdelta.Apply([]byte(baseText), raw)
	case "xdelta3":
		out, err = vcdiff.Decode([]byte(baseText), raw)
	default:
		err = fmt.Errorf("unknown algorithm %q", algo)
	}
	if err != nil {
		return "", false, fmt.Errorf("apply %s: %w", algo, err)
	}
	text := string(out)
	if st.conflation {
		key := ""
		if d.ConflationKey != nil {
			key = *d.ConflationKey
		}
		st.push(key, text, d.Seq)
	} else {
		st.base = text
	}
	var env map[string]json.RawMessage
	if json.Unmarshal(out, &env) != nil {
		return "", false, fmt.Errorf("reconstructed frame is not JSON: %s", out)
	}
	var ev string
	json.Unmarshal(env["event"], &ev)
	if ev != d.Event {
		return "", false, fmt.Errorf("delta event %q, reconstructed %q", d.Event, ev)
	}
	return text, true, nil
}

// Resync forgets channel's state and records that the client asked for a
// resync (sockudo:delta_sync_error), as the JS client does on a failure.
func (c *Client) Resync(channel string) {
	c.Resyncs = append(c.Resyncs, channel)
	delete(c.Channels, channel)
}
