package protocol

import "strconv"

// V2Meta is what a V2 broadcast carries beyond a V1 event
// (sockudo-v2.md §4). Tags and Extras are encoded JSON objects (nil when
// absent); HasSerial tells serial 0 from no serial.
type V2Meta struct {
	Tags      []byte
	MessageID string
	StreamID  string
	Serial    uint64
	HasSerial bool
	Extras    []byte
	// ObjectData: data is the JSON text of a non-string value a client
	// event carried. The frame still sends it as a string; subscription
	// filters see the value, as Sockudo's do.
	ObjectData bool
	// NoDelta is not encoded: it carries a publish's `delta:false` to
	// the engine's delta compression with the rest of the message.
	NoDelta bool
}

// AppendV2Broadcast appends a V2 channel event in Sockudo's member order:
// event (prefix rewritten), channel, data (a JSON string), user_id, tags,
// message_id, stream_id, serial, extras. Absent members are omitted.
func AppendV2Broadcast(dst []byte, event, channel, data, userID string, m *V2Meta) []byte {
	dst = append(dst, `{"event":`...)
	dst = AppendV2Event(dst, event)
	if channel != "" {
		dst = append(dst, `,"channel":`...)
		dst = AppendJSONString(dst, channel)
	}
	dst = append(dst, `,"data":`...)
	dst = AppendJSONString(dst, data)
	if userID != "" {
		dst = append(dst, `,"user_id":`...)
		dst = AppendJSONString(dst, userID)
	}
	if m != nil {
		if len(m.Tags) > 0 {
			dst = append(dst, `,"tags":`...)
			dst = append(dst, m.Tags...)
		}
		if m.MessageID != "" {
			dst = append(dst, `,"message_id":`...)
			dst = AppendJSONString(dst, m.MessageID)
		}
		if m.StreamID != "" {
			dst = append(dst, `,"stream_id":`...)
			dst = AppendJSONString(dst, m.StreamID)
		}
		if m.HasSerial {
			dst = append(dst, `,"serial":`...)
			dst = strconv.AppendUint(dst, m.Serial, 10)
		}
		if len(m.Extras) > 0 {
			dst = append(dst, `,"extras":`...)
			dst = append(dst, m.Extras...)
		}
	}
	return append(dst, '}')
}

// AppendV2SubscriptionSucceeded appends sockudo_internal:subscription_succeeded
// for channel with data (a JSON string) and, when hasPos, the top-level
// stream_id and serial of the channel's recovery position, then messageID.
func AppendV2SubscriptionSucceeded(dst []byte, channel, data string, hasPos bool, streamID string, serial uint64, messageID string) []byte {
	dst = append(dst, `{"event":"sockudo_internal:subscription_succeeded","channel":`...)
	dst = AppendJSONString(dst, channel)
	dst = append(dst, `,"data":`...)
	dst = AppendJSONString(dst, data)
	if messageID != "" {
		dst = append(dst, `,"message_id":`...)
		dst = AppendJSONString(dst, messageID)
	}
	if hasPos {
		dst = append(dst, `,"stream_id":`...)
		dst = AppendJSONString(dst, streamID)
		dst = append(dst, `,"serial":`...)
		dst = strconv.AppendUint(dst, serial, 10)
	}
	return append(dst, '}')
}
