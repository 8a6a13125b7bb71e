package protocol

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// WireFrame is a server frame taken apart into the fields of Sockudo's
// PusherMessage (sockudo-v2.md §4), so the binary wire formats (§13) can
// be encoded from the JSON frame the engine built: the engine stays a JSON
// encoder, and each binary codec maps these fields to its own layout.
// Strings alias the parsed input when they have no escapes.
type WireFrame struct {
	Event, Channel, Name, UserID string
	// Data is the raw JSON of data, nil when absent or null. When
	// DataIsString, DataText is its unescaped value.
	Data         []byte
	DataIsString bool
	DataText     string
	// Tags and Extras are the raw JSON objects, nil when absent.
	Tags, Extras []byte

	ConflationKey, MessageID, StreamID, IdempotencyKey string
	DeltaConflationKey                                 string // __conflation_key

	Sequence, Serial, DeltaSeq          uint64
	HasSequence, HasSerial, HasDeltaSeq bool

	// scratch holds DataText when data has escapes; kept across parses
	// so a pooled WireFrame unescapes without allocating.
	scratch []byte
}

// ErrBadWireFrame is what a frame that is not a JSON object (or whose
// numeric fields are not unsigned integers) fails to parse with.
var ErrBadWireFrame = errors.New("protocol: frame is not a JSON object with PusherMessage fields")

// ParseWireFrame takes a JSON frame apart. Unknown members are skipped:
// the binary layouts have no place for them. The strings in f alias p (and
// f's own scratch), so they are valid until p changes or f is parsed into
// again.
func ParseWireFrame(p []byte, f *WireFrame) error {
	*f = WireFrame{scratch: f.scratch[:0]}
	s := scanner{b: p}
	if !s.open('{') {
		return ErrBadWireFrame
	}
	var kbuf [keyBuf]byte
	ok := true
	for n := 0; ; {
		key, more := s.member(&n, &kbuf)
		if !more {
			break
		}
		ok = f.member(&s, string(key)) && ok
	}
	if !s.end() || !ok {
		*f = WireFrame{scratch: f.scratch[:0]}
		return ErrBadWireFrame
	}
	return nil
}

// member reads the value of one top-level member into f.
func (f *WireFrame) member(s *scanner, key string) bool {
	if key == "data" {
		return f.data(s)
	}
	if dst := f.stringField(key); dst != nil {
		*dst, _ = s.stringOrSkip(true)
		return true
	}
	var num *uint64
	var has *bool
	switch key {
	case "tags":
		f.Tags = nullToNil(s.value())
		return true
	case "extras":
		f.Extras = nullToNil(s.value())
		return true
	case "sequence":
		num, has = &f.Sequence, &f.HasSequence
	case "serial":
		num, has = &f.Serial, &f.HasSerial
	case "__delta_seq":
		num, has = &f.DeltaSeq, &f.HasDeltaSeq
	default:
		s.value()
		return true
	}
	raw := s.value()
	if string(raw) == "null" {
		return true
	}
	v, err := strconv.ParseUint(string(raw), 10, 64)
	*num, *has = v, err == nil
	return err == nil
}

// stringField returns where a string member of that name goes.
func (f *WireFrame) stringField(key string) *string {
	switch key {
	case "event":
		return &f.Event
	case "channel":
		return &f.Channel
	case "name":
		return &f.Name
	case "user_id":
		return &f.UserID
	case "conflation_key":
		return &f.ConflationKey
	case "message_id":
		return &f.MessageID
	case "stream_id":
		return &f.StreamID
	case "idempotency_key":
		return &f.IdempotencyKey
	case "__conflation_key":
		return &f.DeltaConflationKey
	}
	return nil
}

func (f *WireFrame) data(s *scanner) bool {
	if s.peek() == '"' {
		start := s.i
		raw, esc := s.str()
		f.Data = s.b[start:s.i]
		f.DataIsString, f.DataText = true, aliasString(raw)
		if esc {
			f.scratch = unescapeAppend(f.scratch[:0], raw)
			f.DataText = aliasString(f.scratch)
		}
		return true
	}
	f.Data, f.DataIsString, f.DataText = nullToNil(s.value()), false, ""
	return true
}

func nullToNil(raw []byte) []byte {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// StringPair is one member of a JSON object of strings (tags, AI maps).
type StringPair struct{ Key, Value string }

// StringPairs reads a JSON object whose values are strings, sorted by key
// (Sockudo keeps tags in a BTreeMap, so its binary frames list them in key
// order). Non-string values are skipped.
func StringPairs(obj []byte) ([]StringPair, error) {
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	out := make([]StringPair, 0, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, StringPair{k, s})
		}
	}
	slices.SortFunc(out, func(a, b StringPair) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// HeaderKind is the type of an extras header value.
type HeaderKind uint8

// Header value kinds, in Sockudo's ExtrasValue order.
const (
	HeaderString HeaderKind = iota
	HeaderNumber
	HeaderBool
)

// WireHeader is one extras.headers entry.
type WireHeader struct {
	Key  string
	Kind HeaderKind
	Str  string
	Num  float64
	Bool bool
}

// WireExtras is the part of a frame's extras the binary formats carry
// (sockudo-v2.md §13: headers, ephemeral, idempotency key, echo, ai);
// push and opaque members have no place there.
type WireExtras struct {
	Headers                []WireHeader // sorted by key; nil when absent
	HasHeaders             bool
	Ephemeral, Echo        bool
	HasEphemeral, HasEcho  bool
	IdempotencyKey         string
	HasIdempotencyKey      bool
	HasAI                  bool
	AITransport, AICodec   []StringPair
	HasTransport, HasCodec bool
}

// ParseWireExtras reads an extras object as V2 subscribers receive it
// (camelCase idempotencyKey). Extras are rare and small, so this uses
// encoding/json rather than the scanner.
func ParseWireExtras(obj []byte) (WireExtras, error) {
	var raw struct {
		Headers        map[string]any             `json:"headers"`
		Ephemeral      *bool                      `json:"ephemeral"`
		IdempotencyKey *string                    `json:"idempotencyKey"`
		Echo           *bool                      `json:"echo"`
		AI             map[string]json.RawMessage `json:"ai"`
	}
	var x WireExtras
	if err := json.Unmarshal(obj, &raw); err != nil {
		return x, err
	}
	if raw.Headers != nil {
		x.HasHeaders = true
		x.Headers = make([]WireHeader, 0, len(raw.Headers))
		for k, v := range raw.Headers {
			x.Headers = append(x.Headers, header(k, v))
		}
		slices.SortFunc(x.Headers, func(a, b WireHeader) int { return strings.Compare(a.Key, b.Key) })
	}
	if raw.Ephemeral != nil {
		x.Ephemeral, x.HasEphemeral = *raw.Ephemeral, true
	}
	if raw.Echo != nil {
		x.Echo, x.HasEcho = *raw.Echo, true
	}
	if raw.IdempotencyKey != nil {
		x.IdempotencyKey, x.HasIdempotencyKey = *raw.IdempotencyKey, true
	}
	if raw.AI != nil {
		x.HasAI = true
		if t, ok := raw.AI["transport"]; ok && string(t) != "null" {
			x.AITransport, _ = StringPairs(t)
			x.HasTransport = true
		}
		if c, ok := raw.AI["codec"]; ok && string(c) != "null" {
			x.AICodec, _ = StringPairs(c)
			x.HasCodec = true
		}
	}
	return x, nil
}

// header converts one decoded header value; Sockudo only admits scalars,
// anything else travels as its JSON text.
func header(k string, v any) WireHeader {
	switch t := v.(type) {
	case string:
		return WireHeader{Key: k, Kind: HeaderString, Str: t}
	case float64:
		return WireHeader{Key: k, Kind: HeaderNumber, Num: t}
	case bool:
		return WireHeader{Key: k, Kind: HeaderBool, Bool: t}
	}
	b, _ := json.Marshal(v)
	return WireHeader{Key: k, Kind: HeaderString, Str: string(b)}
}

// AppendClientJSON encodes a client frame decoded from a binary format as
// the JSON the engine's handlers read: event, channel (when present) and
// data (raw JSON, when present). Client extras are dropped, as Sockudo
// does (sockudo-v2.md §3.1).
func AppendClientJSON(dst []byte, event, channel string, hasChannel bool, data []byte) []byte {
	dst = append(dst, `{"event":`...)
	dst = AppendJSONString(dst, event)
	if hasChannel {
		dst = append(dst, `,"channel":`...)
		dst = AppendJSONString(dst, channel)
	}
	if data != nil {
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	return append(dst, '}')
}

// AppendStructuredData encodes the structured data variant of the binary
// formats as the JSON object Sockudo rebuilds from it: channel_data,
// channel and user_data when present, then each extra member, whose value
// is JSON text (kept as a string when it is not valid JSON, as Sockudo
// does).
func AppendStructuredData(dst []byte, channelData, channel, userData *string, extra []StringPair) []byte {
	dst = append(dst, '{')
	n := 0
	member := func(k string) {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = AppendJSONString(dst, k)
		dst = append(dst, ':')
	}
	for _, m := range [...]struct {
		k string
		v *string
	}{{"channel_data", channelData}, {"channel", channel}, {"user_data", userData}} {
		if m.v != nil {
			member(m.k)
			dst = AppendJSONString(dst, *m.v)
		}
	}
	for _, p := range extra {
		member(p.Key)
		dst = AppendJSONText(dst, p.Value)
	}
	return append(dst, '}')
}

// AppendJSONText appends text when it is valid JSON, else text as a JSON
// string: a binary frame's "json" data that does not parse still reaches
// the handlers, as a string, the way Sockudo falls back.
func AppendJSONText(dst []byte, text string) []byte {
	if json.Valid(aliasBytes(text)) {
		return append(dst, text...)
	}
	return AppendJSONString(dst, text)
}
