package httpapi

import (
	"bytes"
	"sort"
	"strconv"

	"github.com/goccy/go-json"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// Limits on the V2 members of a publish. Tags follow Sockudo's tag-filter
// limits; keys and ids follow idempotency.max_key_length.
const (
	maxTags         = 128
	maxTagKeyLen    = 256
	maxTagValueLen  = 1024
	maxKeyLen       = 128
	maxExtrasLen    = 16 << 10
	maxHeaderCount  = 128
	maxHeaderKeyLen = 256
)

// decodeV2Fields validates the protocol V2 members of a publish (tags,
// delta, idempotency_key, message_id, extras: sockudo-v2.md §4) and
// returns them for the engine, or nil when the body has none. Every
// refusal is a 400 naming the member.
// keyLen bounds the idempotency keys (idempotency.max_key_length).
func decodeV2Fields(b *eventBody, keyLen int) (*engine.V2Fields, *apiError) {
	if b.Tags == nil && b.Delta == nil && b.IdempotencyKey == nil && b.MessageID == nil && b.Extras == nil {
		return nil, nil
	}
	v := &engine.V2Fields{}
	var aerr *apiError
	if v.Tags, aerr = decodeTags(b.Tags); aerr != nil {
		return nil, aerr
	}
	if !isNull(b.Delta) {
		var d bool
		if json.Unmarshal(b.Delta, &d) != nil {
			return nil, badRequest("delta must be a boolean")
		}
		v.NoDelta = !d
	}
	if v.IdempotencyKey, aerr = decodeKeyOf("idempotency_key", b.IdempotencyKey, keyLen); aerr != nil {
		return nil, aerr
	}
	if v.MessageID, aerr = decodeKey("message_id", b.MessageID); aerr != nil {
		return nil, aerr
	}
	if aerr = decodeExtras(b.Extras, v, keyLen); aerr != nil {
		return nil, aerr
	}
	return v, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// decodeTags checks that tags is an object of strings and re-encodes it
// with sorted keys, the form V2 subscribers receive.
func decodeTags(raw json.RawMessage) ([]byte, *apiError) {
	if isNull(raw) {
		return nil, nil
	}
	var tags map[string]any
	if json.Unmarshal(raw, &tags) != nil {
		return nil, badRequest("tags must be an object of string values")
	}
	if len(tags) > maxTags {
		return nil, badRequest("tags has more than " + strconv.Itoa(maxTags) + " entries")
	}
	if len(tags) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(tags))
	for k, val := range tags {
		s, ok := val.(string)
		switch {
		case !ok:
			return nil, badRequest("tags." + truncateKey(k) + " must be a string")
		case k == "" || len(k) > maxTagKeyLen:
			return nil, badRequest("tag keys must be 1 to " + strconv.Itoa(maxTagKeyLen) + " bytes")
		case len(s) > maxTagValueLen:
			return nil, badRequest("tags." + truncateKey(k) + " is longer than " + strconv.Itoa(maxTagValueLen) + " bytes")
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = protocol.AppendJSONString(out, k)
		out = append(out, ':')
		out = protocol.AppendJSONString(out, tags[k].(string))
	}
	return append(out, '}'), nil
}

// decodeKey reads an optional non-empty string of at most maxKeyLen bytes.
func decodeKey(name string, raw json.RawMessage) (string, *apiError) {
	return decodeKeyOf(name, raw, maxKeyLen)
}

// decodeKeyOf reads an optional non-empty string of at most max bytes.
func decodeKeyOf(name string, raw json.RawMessage, max int) (string, *apiError) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", badRequest(name + " must be a string")
	}
	if s == "" || len(s) > max {
		return "", badRequest(name + " must be 1 to " + strconv.Itoa(max) + " bytes")
	}
	return s, nil
}

// decodeExtras validates extras (Sockudo's MessageExtras, camelCase):
// headers an object of scalar values, ephemeral and echo booleans,
// idempotencyKey a string; other members pass through. The compacted
// object is what V2 subscribers receive; an empty object is dropped.
func decodeExtras(raw json.RawMessage, v *engine.V2Fields, keyLen int) *apiError {
	if isNull(raw) {
		return nil
	}
	if len(raw) > maxExtrasLen {
		return badRequest("extras is larger than " + strconv.Itoa(maxExtrasLen/1024) + " KB")
	}
	var x map[string]json.RawMessage
	if json.Unmarshal(raw, &x) != nil || x == nil {
		return badRequest("extras must be an object")
	}
	if h, ok := x["headers"]; ok && !isNull(h) {
		var headers map[string]any
		if json.Unmarshal(h, &headers) != nil {
			return badRequest("extras.headers must be an object")
		}
		if len(headers) > maxHeaderCount {
			return badRequest("extras.headers has more than " + strconv.Itoa(maxHeaderCount) + " entries")
		}
		for k, val := range headers {
			if len(k) > maxHeaderKeyLen {
				return badRequest("extras.headers keys must be at most " + strconv.Itoa(maxHeaderKeyLen) + " bytes")
			}
			switch val.(type) {
			case string, float64, bool:
			default:
				return badRequest("extras.headers." + truncateKey(k) + " must be a string, number or boolean")
			}
		}
	}
	for _, name := range []string{"ephemeral", "echo"} {
		if r, ok := x[name]; ok && !isNull(r) {
			var flag bool
			if json.Unmarshal(r, &flag) != nil {
				return badRequest("extras." + name + " must be a boolean")
			}
			if name == "ephemeral" {
				v.Ephemeral = flag
			}
		}
	}
	if r, ok := x["idempotencyKey"]; ok {
		k, aerr := decodeKeyOf("extras.idempotencyKey", r, keyLen)
		if aerr != nil {
			return aerr
		}
		v.ChannelKey = k
	}
	if len(x) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return badRequest("extras must be an object")
	}
	v.Extras = buf.Bytes()
	return nil
}

func truncateKey(k string) string {
	if len(k) > 64 {
		return k[:64] + "…"
	}
	return k
}
