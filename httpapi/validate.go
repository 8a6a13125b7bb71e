package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/goccy/go-json"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// Per-app defaults for limits an App leaves at 0 (pusher-protocol.md §3).
const (
	defaultMaxEventNameLength     = 200
	defaultMaxEventPayloadKB      = 10
	defaultMaxEventChannelsAtOnce = 100
	defaultMaxEventBatchSize      = 10
)

// limits are an app's effective HTTP API limits.
type limits struct {
	nameLen      int
	payloadBytes int
	channels     int
	batch        int
	channelName  int
	keyLen       int // idempotency keys: idempotency.max_key_length
}

func limitsOf(app *engine.App) limits {
	return limits{
		nameLen:      orDefault(app.MaxEventNameLength, defaultMaxEventNameLength),
		payloadBytes: orDefault(app.MaxEventPayloadKB, defaultMaxEventPayloadKB) * 1024,
		channels:     orDefault(app.MaxEventChannelsAtOnce, defaultMaxEventChannelsAtOnce),
		batch:        orDefault(app.MaxEventBatchSize, defaultMaxEventBatchSize),
		channelName:  orDefault(app.MaxChannelNameLength, protocol.DefaultMaxChannelNameLength),
		keyLen:       maxKeyLen,
	}
}

// eventBody is one event as /events and each /batch_events item carry it.
// data is decoded once into whatever JSON value it is, so a non-string gets
// a precise refusal without keeping and re-parsing the raw bytes.
type eventBody struct {
	Name     string   `json:"name"`
	Data     any      `json:"data"`
	Channels []string `json:"channels"`
	Channel  string   `json:"channel"`
	SocketID string   `json:"socket_id"`
	Info     string   `json:"info"`
	// Protocol V2 members (sockudo-v2.md §4); see v2fields.go.
	Tags           json.RawMessage `json:"tags"`
	Delta          json.RawMessage `json:"delta"`
	IdempotencyKey json.RawMessage `json:"idempotency_key"`
	MessageID      json.RawMessage `json:"message_id"`
	Extras         json.RawMessage `json:"extras"`
}

// event validates b against l and returns the event to publish. maxChannels
// is the channel limit (1 for batch items).
func (l limits) event(b *eventBody, maxChannels int) (*engine.Event, *apiError) {
	if b.Name == "" {
		return nil, badRequest("name is required")
	}
	if len(b.Name) > l.nameLen {
		return nil, badRequest("name is longer than " + strconv.Itoa(l.nameLen) + " characters")
	}
	data, aerr := l.data(b.Data)
	if aerr != nil {
		return nil, aerr
	}
	channels, aerr := l.targets(b, maxChannels)
	if aerr != nil {
		return nil, aerr
	}
	if b.SocketID != "" && !protocol.ValidSocketID(b.SocketID) {
		return nil, badRequest("socket_id is not a valid socket id")
	}
	v2, aerr := decodeV2Fields(b, l.keyLen)
	if aerr != nil {
		return nil, aerr
	}
	return &engine.Event{Name: b.Name, Data: data, Channels: channels, SocketID: b.SocketID,
		V2: v2, WantAcks: v2 != nil && (b.Info != "" || v2.MessageID != "")}, nil
}

// data decodes the data member, which must be a JSON string: Pusher
// delivers data as a string, and both SDKs stringify objects before
// sending, so an object here is a client bug worth reporting.
func (l limits) data(v any) (string, *apiError) {
	s, ok := v.(string)
	switch {
	case v == nil:
		return "", badRequest("data is required")
	case !ok:
		return "", badRequest("data must be a string: JSON-encode objects and numbers before sending them")
	}
	if len(s) > l.payloadBytes {
		return "", &apiError{status: http.StatusRequestEntityTooLarge, msg: "data is larger than " + strconv.Itoa(l.payloadBytes/1024) + " KB"}
	}
	return s, nil
}

// targets returns the event's channels (channels, else channel),
// de-duplicated so no subscriber gets an event twice.
func (l limits) targets(b *eventBody, max int) ([]string, *apiError) {
	channels := b.Channels
	if channels == nil && b.Channel != "" {
		channels = []string{b.Channel}
	}
	if len(channels) == 0 {
		return nil, badRequest("channels is required")
	}
	if len(channels) > max {
		return nil, badRequest("too many channels: at most " + strconv.Itoa(max))
	}
	out := channels[:0:0]
	for i, ch := range channels {
		if !l.validTarget(ch) {
			return nil, badRequest("invalid channel name: " + strconv.Quote(ch))
		}
		if !contains(channels[:i], ch) {
			out = append(out, ch)
		}
	}
	return out, nil
}

// validTarget reports whether ch may be published to or queried: a valid
// channel name, or a #server-to-user-{id} channel (HTTP API only).
func (l limits) validTarget(ch string) bool {
	if strings.HasPrefix(ch, protocol.ServerToUserPrefix) {
		id, ok := protocol.ServerToUserID(ch)
		return ok && id != ""
	}
	return protocol.ValidChannelName(ch, l.channelName)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// infoFlags are the attributes an `info` parameter asks for.
type infoFlags struct {
	userCount, subscriptionCount, cache bool
}

// parseInfo reads a comma-separated info list. Unknown attributes are
// ignored, as Pusher does, so newer clients keep working.
func parseInfo(s string) infoFlags {
	var f infoFlags
	for s != "" {
		var attr string
		attr, s, _ = strings.Cut(s, ",")
		switch strings.TrimSpace(attr) {
		case "user_count":
			f.userCount = true
		case "subscription_count":
			f.subscriptionCount = true
		case "cache":
			f.cache = true
		}
	}
	return f
}

// isPresence reports whether ch is a presence channel (cache variant too).
func isPresence(ch string) bool {
	kind, _ := protocol.ParseChannel(ch)
	return kind == protocol.KindPresence
}
