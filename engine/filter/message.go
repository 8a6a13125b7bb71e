package filter

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// MaxDocumentBytes bounds the JSON size of the JMESPath input document
// (Sockudo's 64 KiB); a larger message fails every expression closed.
const MaxDocumentBytes = 64 << 10

// Message is the view of one published frame that filters read. The
// engine fills the fields (empty string = absent) and shares one *Message
// among every worker delivering the publish; nothing here is modified
// after the first Match, except the document built once under its own
// sync.Once.
type Message struct {
	// Event is the frame's event name, as delivered.
	Event string
	// Channel is the concrete channel (also for wildcard subscribers).
	Channel string
	// Tags are the publisher's tags (the frame's top-level `tags`).
	Tags map[string]string
	// Data is the frame's `data` as raw JSON: a JSON string for HTTP
	// publishes, any JSON value for client events; nil when absent.
	Data []byte
	// DataString, with DataIsString and a nil Data, is a data that is
	// a JSON string, unescaped: the engine's form for HTTP publishes,
	// which saves quoting the data for every publish.
	DataString   string
	DataIsString bool
	// Name, UserID, MessageID, StreamID and Action are the frame's
	// name, user_id, message_id, stream_id and the versioned-message
	// action (create, update, …); "" when absent.
	Name, UserID, MessageID, StreamID, Action string
	// Serial is the frame's serial, present only when HasSerial.
	Serial    uint64
	HasSerial bool
	// Extras is the frame's raw `extras` object; only its `headers` are
	// visible to expressions, without keys starting "sockudo_".
	Extras []byte

	doc struct {
		once sync.Once
		v    any
		ok   bool
	}
}

// Document returns the JMESPath input document (Sockudo's projection:
// event, channel, data, name, userId, tags, headers, messageId, streamId,
// serial, action, absent ones null), built on the first call and shared by
// every later one, from any goroutine. ok is false when the document
// cannot be built or is over MaxDocumentBytes: expressions then fail
// closed. Callers must not modify the returned value.
func (m *Message) Document() (doc any, ok bool) {
	m.doc.once.Do(func() { m.doc.v, m.doc.ok = m.buildDocument() })
	return m.doc.v, m.doc.ok
}

func (m *Message) buildDocument() (any, bool) {
	var data any = m.DataString
	if m.Data != nil || !m.DataIsString {
		var ok bool
		if data, ok = decodeBounded(m.Data); !ok {
			return nil, false
		}
	}
	headers, ok := visibleHeaders(m.Extras)
	if !ok {
		return nil, false
	}
	doc := map[string]any{
		"event":     orNull(m.Event),
		"channel":   orNull(m.Channel),
		"data":      data,
		"name":      orNull(m.Name),
		"userId":    orNull(m.UserID),
		"tags":      nil,
		"headers":   headers,
		"messageId": orNull(m.MessageID),
		"streamId":  orNull(m.StreamID),
		"serial":    nil,
		"action":    orNull(m.Action),
	}
	if m.Tags != nil {
		tags := make(map[string]any, len(m.Tags))
		for k, v := range m.Tags {
			tags[k] = v
		}
		doc["tags"] = tags
	}
	if m.HasSerial {
		doc["serial"] = float64(m.Serial)
	}
	if !withinLimit(doc) {
		return nil, false
	}
	return doc, true
}

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// decodeBounded parses raw JSON data, refusing before decoding anything
// whose compact form alone is over the document limit.
func decodeBounded(raw []byte) (any, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, true
	}
	if len(raw) > MaxDocumentBytes {
		var c bytes.Buffer
		if json.Compact(&c, raw) != nil || c.Len() > MaxDocumentBytes {
			return nil, false
		}
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	return v, true
}

// visibleHeaders is extras.headers without the server's own sockudo_
// keys; nil when there are none to show.
func visibleHeaders(extras []byte) (any, bool) {
	if len(bytes.TrimSpace(extras)) == 0 {
		return nil, true
	}
	var e struct {
		Headers map[string]any `json:"headers"`
	}
	if json.Unmarshal(extras, &e) != nil {
		return nil, false
	}
	if e.Headers == nil {
		return nil, true
	}
	out := make(map[string]any, len(e.Headers))
	for k, v := range e.Headers {
		if !strings.HasPrefix(k, "sockudo_") {
			out[k] = v
		}
	}
	return out, true
}

// limitWriter counts bytes and stops the encoder once over the limit.
type limitWriter struct{ n, limit int }

func (w *limitWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	if w.n > w.limit {
		return 0, errOverLimit
	}
	return len(p), nil
}

type overLimit struct{}

func (overLimit) Error() string { return "projected document over its byte limit" }

var errOverLimit error = overLimit{}

// withinLimit measures the document as compact JSON, as Sockudo does
// before handing it to JMESPath.
func withinLimit(doc any) bool {
	w := &limitWriter{limit: MaxDocumentBytes + 1} // + the encoder's newline
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(doc) == nil
}
