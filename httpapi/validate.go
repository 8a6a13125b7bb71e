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

	// plainData is data as the plain decoder read it (decodeEvent), set
	// when plain is; the general decoder leaves both zero and fills Data.
	plainData string
	plain     bool
}

// fromPlain sets b to the event the plain decoder read.
func (b *eventBody) fromPlain(p *protocol.PublishEvent) {
	*b = eventBody{Name: p.Name, Channels: p.Channels, Channel: p.Channel, SocketID: p.SocketID,
		Info: p.Info, plainData: p.Data, plain: p.HasData}
}

// decodeEvent decodes an /events body into b: in one pass without
// reflection for the plain form the SDKs send, else (V2 members, unknown
// members, anything unusual or malformed) with the general decoder, whose
// behaviour and errors are the API's.
func decodeEvent(body []byte, b *eventBody) error {
	var p protocol.PublishEvent
	// The event's strings alias a copy of the body, which is the
	// request's and reused by fasthttp.
	if protocol.DecodePublishEvent(append([]byte(nil), body...), &p) {
		b.fromPlain(&p)
		return nil
	}
	return decodeGeneral(body, b)
}

// decodeGeneral decodes body with the general decoder into a body of its
// own, copied to b: handed to the decoder, b itself would be allocated on
// every request, plain ones included.
func decodeGeneral(body []byte, b *eventBody) error {
	g := new(eventBody)
	err := json.Unmarshal(body, g)
	*b = *g
	return err
}

// maxPlainBatch is the largest batch the plain decoder reads into its
// stack array; larger ones (above the default limit) go to the general
// decoder.
const maxPlainBatch = 16

// decodeBatch decodes a batch_events body into b, as decodeEvent does.
func decodeBatch(body []byte, b *batchBody) error {
	var stack [maxPlainBatch]protocol.PublishEvent
	if items, ok := protocol.DecodePublishBatch(append([]byte(nil), body...), stack[:0]); ok && len(items) <= maxPlainBatch {
		for i := range items {
			b.Batch = append(b.Batch, eventBody{})
			b.Batch[i].fromPlain(&items[i])
		}
		return nil
	}
	return json.Unmarshal(body, b)
}

// eventSlot is an event and room for its one channel, allocated together.
type eventSlot struct {
	ev  engine.Event
	one [1]string
}

// event validates b against l and returns the event to publish. maxChannels
// is the channel limit (1 for batch items).
func (l limits) event(b *eventBody, maxChannels int) (*engine.Event, *apiError) {
	return l.eventIn(b, maxChannels, new(eventSlot))
}

// eventIn is event building the event in slot.
func (l limits) eventIn(b *eventBody, maxChannels int, slot *eventSlot) (*engine.Event, *apiError) {
	if b.Name == "" {
		return nil, badRequest("name is required")
	}
	if len(b.Name) > l.nameLen {
		return nil, badRequest("name is longer than " + strconv.Itoa(l.nameLen) + " characters")
	}
	data, aerr := l.data(b)
	if aerr != nil {
		return nil, aerr
	}
	channels, aerr := l.targets(b, maxChannels, &slot.one)
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
	slot.ev = engine.Event{Name: b.Name, Data: data, Channels: channels, SocketID: b.SocketID,
		V2: v2, WantAcks: v2 != nil && (b.Info != "" || v2.MessageID != "")}
	return &slot.ev, nil
}

// data decodes the data member, which must be a JSON string: Pusher
// delivers data as a string, and both SDKs stringify objects before
// sending, so an object here is a client bug worth reporting.
func (l limits) data(b *eventBody) (string, *apiError) {
	s, ok := b.plainData, b.plain
	switch {
	case ok:
	case b.Data == nil:
		return "", badRequest("data is required")
	default:
		if s, ok = b.Data.(string); !ok {
			return "", badRequest("data must be a string: JSON-encode objects and numbers before sending them")
		}
	}
	if len(s) > l.payloadBytes {
		return "", &apiError{status: http.StatusRequestEntityTooLarge, msg: "data is larger than " + strconv.Itoa(l.payloadBytes/1024) + " KB"}
	}
	return s, nil
}

// targets returns the event's channels (channels, else channel in one),
// de-duplicated so no subscriber gets an event twice. Without duplicates
// the slice is b.Channels itself, which is the request's own.
func (l limits) targets(b *eventBody, max int, one *[1]string) ([]string, *apiError) {
	channels := b.Channels
	if channels == nil && b.Channel != "" {
		one[0] = b.Channel
		channels = one[:]
	}
	if len(channels) == 0 {
		return nil, badRequest("channels is required")
	}
	if len(channels) > max {
		return nil, badRequest("too many channels: at most " + strconv.Itoa(max))
	}
	var out []string // nil until a duplicate: then the distinct ones
	for i, ch := range channels {
		if !l.validTarget(ch) {
			return nil, badRequest("invalid channel name: " + strconv.Quote(ch))
		}
		dup := contains(channels[:i], ch)
		switch {
		case dup && out == nil:
			out = append(make([]string, 0, len(channels)-1), channels[:i]...)
		case !dup && out != nil:
			out = append(out, ch)
		}
	}
	if out == nil {
		return channels, nil
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
