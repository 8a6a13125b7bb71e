package sqlstore

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// dialect holds the SQL that differs between PostgreSQL and MySQL. Every
// value from outside (keys, ids, rows) is a bind parameter; only the table
// name, validated by validTable, is spliced into statements.
type dialect struct {
	name   string // "pgsql" or "mysql"
	quote  func(string) string
	param  func(i int) string // i-th bind parameter, from 1
	cast   func(col string) string
	jsonTy string
	create string // CREATE TABLE IF NOT EXISTS %s (…), %s = quoted table
	upsert string // clause making an insert of an existing id or key a no-op
	schema string // SQL expression naming the current schema
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// validTable reports whether name may be used as the table name: a plain
// identifier, so it can be quoted without escaping.
func validTable(name string) error {
	if !tableName.MatchString(name) {
		return fmt.Errorf("sqlstore: table name %q must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters)", name)
	}
	return nil
}

var postgres = dialect{
	name:   "pgsql",
	quote:  func(s string) string { return `"` + s + `"` },
	param:  func(i int) string { return "$" + strconv.Itoa(i) },
	cast:   func(col string) string { return `"` + col + `"::text` },
	jsonTy: "JSONB",
	create: `CREATE TABLE IF NOT EXISTS %s (
	id VARCHAR(255) PRIMARY KEY,
	"key" VARCHAR(255) UNIQUE NOT NULL,
	secret VARCHAR(255) NOT NULL,
	max_connections INTEGER NOT NULL,
	enable_client_messages BOOLEAN NOT NULL DEFAULT FALSE,
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	max_backend_events_per_second INTEGER NULL,
	max_client_events_per_second INTEGER NOT NULL,
	max_read_requests_per_second INTEGER NULL,
	max_presence_members_per_channel INTEGER NULL,
	max_presence_member_size_in_kb INTEGER NULL,
	max_channel_name_length INTEGER NULL,
	max_event_channels_at_once INTEGER NULL,
	max_event_name_length INTEGER NULL,
	max_event_payload_in_kb INTEGER NULL,
	max_event_batch_size INTEGER NULL,
	enable_user_authentication BOOLEAN NULL,
	enable_watchlist_events BOOLEAN NULL,
	policy JSONB NULL,
	webhooks JSONB NULL,
	allowed_origins JSONB NULL,
	channel_delta_compression JSONB NULL,
	idempotency JSONB NULL,
	connection_recovery JSONB NULL,
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)`,
	upsert: "ON CONFLICT DO NOTHING",
	schema: "current_schema()",
}

var mysql = dialect{
	name:   "mysql",
	quote:  func(s string) string { return "`" + s + "`" },
	param:  func(int) string { return "?" },
	cast:   func(col string) string { return "`" + col + "`" },
	jsonTy: "JSON",
	create: "CREATE TABLE IF NOT EXISTS %s (\n" +
		"	id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,\n" +
		"	`key` VARCHAR(255) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,\n" +
		`	secret VARCHAR(255) NOT NULL,
	max_connections INT UNSIGNED NOT NULL,
	enable_client_messages BOOLEAN NOT NULL DEFAULT FALSE,
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	max_backend_events_per_second INT UNSIGNED NULL,
	max_client_events_per_second INT UNSIGNED NOT NULL,
	max_read_requests_per_second INT UNSIGNED NULL,
	max_presence_members_per_channel INT UNSIGNED NULL,
	max_presence_member_size_in_kb INT UNSIGNED NULL,
	max_channel_name_length INT UNSIGNED NULL,
	max_event_channels_at_once INT UNSIGNED NULL,
	max_event_name_length INT UNSIGNED NULL,
	max_event_payload_in_kb INT UNSIGNED NULL,
	max_event_batch_size INT UNSIGNED NULL,
	enable_user_authentication BOOLEAN NULL,
	enable_watchlist_events BOOLEAN NULL,
	policy JSON NULL,
	webhooks JSON NULL,
	allowed_origins JSON NULL,
	channel_delta_compression JSON NULL,
	idempotency JSON NULL,
	connection_recovery JSON NULL,
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	PRIMARY KEY (id),
	UNIQUE KEY ` + "`key` (`key`)" + `
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
	// A no-op update: a duplicate id or key changes nothing and affects
	// no row, without INSERT IGNORE's swallowing of other errors.
	upsert: "ON DUPLICATE KEY UPDATE id = id",
	schema: "DATABASE()",
}

// statements are one store's SQL, built once from the dialect and table.
type statements struct {
	byKey, byID string
	byIDs       func(n int) string // n bind parameters (MySQL) or one array (PostgreSQL)
	all         string
	index       string // id and key of every row
	create      string
	columns     string // the table's existing column names
	addColumn   func(name string) string
	insert      string
}

func (d dialect) statements(table string) statements {
	t := d.quote(table)
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = d.cast(c.name)
	}
	sel := "SELECT " + strings.Join(cols, ", ") + " FROM " + t
	s := statements{
		byKey:  sel + " WHERE " + d.quote("key") + " = " + d.param(1),
		byID:   sel + " WHERE id = " + d.param(1),
		all:    sel,
		index:  "SELECT " + d.cast("id") + ", " + d.cast("key") + " FROM " + t,
		create: fmt.Sprintf(d.create, t),
		columns: "SELECT column_name FROM information_schema.columns WHERE table_schema = " + d.schema +
			" AND table_name = " + d.param(1),
		addColumn: func(name string) string { return "ALTER TABLE " + t + " ADD COLUMN " + name + " " + d.jsonTy + " NULL" },
	}
	if d.name == "pgsql" {
		s.byIDs = func(int) string { return sel + " WHERE id = ANY($1)" }
	} else {
		s.byIDs = func(n int) string {
			return sel + " WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")"
		}
	}
	ins := make([]string, len(insertColumns))
	vals := make([]string, len(insertColumns))
	for i, c := range insertColumns {
		ins[i] = d.quote(c)
		vals[i] = d.param(i + 1)
		if d.name == "pgsql" && i >= len(insertColumns)-3 {
			vals[i] += "::jsonb"
		}
	}
	s.insert = "INSERT INTO " + t + " (" + strings.Join(ins, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ") " + d.upsert
	return s
}

// insertColumns are the columns an inline app is written with: the
// required and flat columns, then policy, webhooks and allowed_origins
// (the last three, JSON).
var insertColumns = [...]string{
	"id", "key", "secret", "enabled",
	"max_connections", "enable_client_messages",
	"max_backend_events_per_second", "max_client_events_per_second",
	"max_read_requests_per_second", "max_presence_members_per_channel",
	"max_presence_member_size_in_kb", "max_channel_name_length",
	"max_event_channels_at_once", "max_event_name_length",
	"max_event_payload_in_kb", "max_event_batch_size",
	"enable_user_authentication", "enable_watchlist_events",
	"policy", "webhooks", "allowed_origins",
}
