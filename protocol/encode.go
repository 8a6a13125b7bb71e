package protocol

import "strconv"

// AppendEvent appends {"event":E,"channel":C,"data":"<data as JSON string>"}
// and, when userID is not empty, ,"user_id":"U". channel is omitted when
// empty. This is the shape of every channel event: data is always a string.
func AppendEvent(dst []byte, event, channel, data, userID string) []byte {
	dst = appendEnvelope(dst, event, channel)
	dst = append(dst, `,"data":`...)
	dst = AppendJSONString(dst, data)
	if userID != "" {
		dst = append(dst, `,"user_id":`...)
		dst = AppendJSONString(dst, userID)
	}
	return append(dst, '}')
}

// AppendEventObject appends {"event":E,"channel":C,"data":<obj>} with obj
// copied verbatim (it must be valid JSON). channel is omitted when empty;
// data is omitted when obj is nil.
func AppendEventObject(dst []byte, event, channel string, obj []byte) []byte {
	dst = appendEnvelope(dst, event, channel)
	if obj != nil {
		dst = append(dst, `,"data":`...)
		dst = append(dst, obj...)
	}
	return append(dst, '}')
}

// AppendError appends {"event":"pusher:error","channel":C,"data":{"code":N,
// "message":"M"}}; channel is omitted when empty.
func AppendError(dst []byte, code Code, message, channel string) []byte {
	dst = appendEnvelope(dst, EventError, channel)
	dst = append(dst, `,"data":{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"message":`...)
	dst = AppendJSONString(dst, message)
	return append(dst, '}', '}')
}

// AppendConnectionEstablished appends pusher:connection_established with data
// the string {"socket_id":"S","activity_timeout":N}.
func AppendConnectionEstablished(dst []byte, socketID string, activityTimeout int) []byte {
	dst = appendEnvelope(dst, EventConnectionEstablished, "")
	dst = append(dst, `,"data":"{\"socket_id\":\"`...)
	dst = appendDoubleEscaped(dst, socketID)
	dst = append(dst, `\",\"activity_timeout\":`...)
	dst = strconv.AppendInt(dst, int64(activityTimeout), 10)
	return append(dst, '}', '"', '}')
}

// AppendSubscriptionError appends {"event":"pusher:subscription_error",
// "channel":C,"data":{"type":T,"error":M,"status":N}}.
func AppendSubscriptionError(dst []byte, channel, typ, message string, status int) []byte {
	dst = appendEnvelope(dst, EventSubscriptionError, channel)
	dst = append(dst, `,"data":{"type":`...)
	dst = AppendJSONString(dst, typ)
	dst = append(dst, `,"error":`...)
	dst = AppendJSONString(dst, message)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	return append(dst, '}', '}')
}

// appendEnvelope opens an event object: {"event":E and, when channel is
// not empty, ,"channel":C. The caller adds the rest and the closing brace.
func appendEnvelope(dst []byte, event, channel string) []byte {
	dst = append(dst, `{"event":`...)
	dst = AppendJSONString(dst, event)
	if channel != "" {
		dst = append(dst, `,"channel":`...)
		dst = AppendJSONString(dst, channel)
	}
	return dst
}
