package sqlstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// kind is how a column's text becomes JSON.
type kind uint8

const (
	kString kind = iota
	kBool
	kInt
	kJSON
)

// column is one column of Sockudo's applications table.
type column struct {
	name string
	kind kind
}

// columns is the order every SELECT lists, and rows hold, the columns.
// The first four are required; the flat columns follow, then the JSON
// columns (policy first).
var columns = [...]column{
	{"id", kString}, {"key", kString}, {"secret", kString}, {"enabled", kBool},
	{"max_connections", kInt}, {"enable_client_messages", kBool},
	{"max_backend_events_per_second", kInt}, {"max_client_events_per_second", kInt},
	{"max_read_requests_per_second", kInt}, {"max_presence_members_per_channel", kInt},
	{"max_presence_member_size_in_kb", kInt}, {"max_channel_name_length", kInt},
	{"max_event_channels_at_once", kInt}, {"max_event_name_length", kInt},
	{"max_event_payload_in_kb", kInt}, {"max_event_batch_size", kInt},
	{"enable_user_authentication", kBool}, {"enable_watchlist_events", kBool},
	{"policy", kJSON}, {"webhooks", kJSON}, {"allowed_origins", kJSON},
	{"channel_delta_compression", kJSON}, {"idempotency", kJSON}, {"connection_recovery", kJSON},
}

// Positions of the columns the store reads itself.
const (
	colID = iota
	colKey
	colSecret
	colEnabled
	colPolicy = 18
)

// jsonColumns are the JSON columns a table created by an older Sockudo may
// lack; they are added when missing, as Sockudo does.
var jsonColumns = [...]string{"policy", "webhooks", "allowed_origins", "channel_delta_compression", "idempotency", "connection_recovery"}

// field is one column value as text; ok is false for SQL NULL.
type field struct {
	s  string
	ok bool
}

// row is one table row, in the order of columns.
type row [len(columns)]field

// appJSON renders r as one app object in Sockudo's form: the policy form
// when the policy column holds an object, else the flat form built from
// the flat columns and the other JSON columns. SQL NULL and JSON null are
// the same: the key is left out, so the app takes the default.
func (r *row) appJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := colID; i <= colEnabled; i++ {
		if err := r.write(&b, i, i > 0); err != nil {
			return nil, err
		}
	}
	if p := r[colPolicy]; p.ok && !isNull(p.s) {
		if err := r.write(&b, colPolicy, true); err != nil {
			return nil, err
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	}
	for i := colEnabled + 1; i < len(columns); i++ {
		if i != colPolicy {
			if err := r.write(&b, i, true); err != nil {
				return nil, err
			}
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// write appends `"name":value` for column i unless it is NULL.
func (r *row) write(b *bytes.Buffer, i int, comma bool) error {
	f, c := r[i], columns[i]
	if !f.ok || c.kind == kJSON && isNull(f.s) {
		return nil
	}
	if comma {
		b.WriteByte(',')
	}
	b.WriteByte('"')
	b.WriteString(c.name)
	b.WriteString(`":`)
	switch c.kind {
	case kString:
		q, _ := json.Marshal(f.s) // a string always marshals
		b.Write(q)
	case kBool:
		v, err := parseBool(f.s)
		if err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
		b.WriteString(strconv.FormatBool(v))
	case kInt:
		n, err := strconv.ParseInt(strings.TrimSpace(f.s), 10, 64)
		if err != nil {
			return fmt.Errorf("column %s: not an integer: %q", c.name, f.s)
		}
		if n < 0 && n >= -1<<31 {
			// Sockudo stores u32 limits in PostgreSQL's signed INTEGER
			// (u32 as i32): read them back the same way.
			n += 1 << 32
		}
		b.WriteString(strconv.FormatInt(n, 10))
	case kJSON:
		if !json.Valid([]byte(f.s)) {
			return fmt.Errorf("column %s: invalid JSON", c.name)
		}
		b.WriteString(strings.TrimSpace(f.s))
	}
	return nil
}

func isNull(s string) bool { return strings.TrimSpace(s) == "null" }

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true":
		return true, nil
	case "0", "f", "false":
		return false, nil
	}
	return false, errors.New("not a boolean: " + strconv.Quote(s))
}
