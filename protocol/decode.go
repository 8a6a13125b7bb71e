package protocol

import "errors"

// Errors returned by the decoders. They are messages for pusher:error.
var (
	ErrNotJSONObject = errors.New("protocol: frame is not a JSON object")
	ErrNoEvent       = errors.New("protocol: frame has no event")
	ErrBadData       = errors.New("protocol: data has the wrong shape")
)

// ClientMessage is a decoded client frame. Event and Channel are unescaped
// copies only when they contain escapes; otherwise they alias the input.
// Data is the raw JSON of the data member (nil when absent) and aliases the
// input. Valid until the input buffer is reused.
type ClientMessage struct {
	Event   string
	Channel string
	Data    []byte
}

// DecodeClientMessage decodes a client frame {"event":..,"channel":..,
// "data":..}; unknown members are skipped. It must not allocate for frames
// without escapes in event or channel (aliasing the input via unsafe is
// allowed). A "channel" inside data is not confused with the top-level one.
//
// Malformed JSON, trailing bytes or a non-object give ErrNotJSONObject; a
// missing, empty or non-string event gives ErrNoEvent; a channel that is
// neither a string nor null gives ErrBadData. Duplicate members: the last
// one wins, as with JSON.parse. p is expected to be valid UTF-8 (FrameReader
// checks text messages); invalid bytes inside strings pass through as is.
func DecodeClientMessage(p []byte, m *ClientMessage) error {
	*m = ClientMessage{}
	s := scanner{b: p}
	if !s.open('{') {
		return ErrNotJSONObject
	}
	var kbuf [keyBuf]byte
	var kind, channelKind valueKind
	for n := 0; ; {
		key, ok := s.member(&n, &kbuf)
		if !ok {
			break
		}
		switch string(key) {
		case "event":
			m.Event, kind = s.stringOrSkip(true)
		case "channel":
			m.Channel, channelKind = s.stringOrSkip(true)
		case "data":
			m.Data = s.value()
		default:
			s.value()
		}
	}
	switch {
	case !s.end():
		*m = ClientMessage{}
		return ErrNotJSONObject
	case kind != kindString || m.Event == "":
		return ErrNoEvent
	case channelKind == kindOther:
		return ErrBadData
	}
	return nil
}

// Subscribe is the data of pusher:subscribe. ChannelData is the raw string
// the client sent (signatures are computed over it), HasChannelData tells an
// empty string from an absent member.
type Subscribe struct {
	Channel        string
	Auth           string
	ChannelData    string
	HasChannelData bool
}

// DecodeSubscribe decodes the data object of pusher:subscribe or
// pusher:unsubscribe. The strings are copies, so they outlive data. channel
// must be a string; auth and channel_data strings or null (null is absent).
// Anything else is ErrBadData.
func DecodeSubscribe(data []byte, sub *Subscribe) error {
	*sub = Subscribe{}
	s := scanner{b: data}
	if !s.open('{') {
		return ErrBadData
	}
	var kbuf [keyBuf]byte
	channel, auth, channelData := kindNull, kindNull, kindNull
	for n := 0; ; {
		key, ok := s.member(&n, &kbuf)
		if !ok {
			break
		}
		switch string(key) {
		case "channel":
			sub.Channel, channel = s.stringOrSkip(false)
		case "auth":
			sub.Auth, auth = s.stringOrSkip(false)
		case "channel_data":
			sub.ChannelData, channelData = s.stringOrSkip(false)
		default:
			s.value()
		}
	}
	sub.HasChannelData = channelData == kindString
	if !s.end() || channel != kindString || auth == kindOther || channelData == kindOther {
		*sub = Subscribe{}
		return ErrBadData
	}
	return nil
}

// Signin is the data of pusher:signin; UserData is the raw string signed.
type Signin struct {
	Auth     string
	UserData string
}

// DecodeSignin decodes the data object of pusher:signin. The strings are
// copies. user_data must be a string; auth a string or absent (an empty
// auth then fails verification, not decoding).
func DecodeSignin(data []byte, sg *Signin) error {
	*sg = Signin{}
	s := scanner{b: data}
	if !s.open('{') {
		return ErrBadData
	}
	var kbuf [keyBuf]byte
	auth, userData := kindNull, kindNull
	for n := 0; ; {
		key, ok := s.member(&n, &kbuf)
		if !ok {
			break
		}
		switch string(key) {
		case "auth":
			sg.Auth, auth = s.stringOrSkip(false)
		case "user_data":
			sg.UserData, userData = s.stringOrSkip(false)
		default:
			s.value()
		}
	}
	if !s.end() || userData != kindString || auth == kindOther {
		*sg = Signin{}
		return ErrBadData
	}
	return nil
}
