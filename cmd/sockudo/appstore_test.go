package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	pusher "github.com/pusher/pusher-http-go/v5"

	"github.com/sockudo/sockudo-go/engine/appstore/mysqltest"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
	"github.com/sockudo/sockudo-go/protocol"
)

// sqlDB is one real database a node reads its apps from.
type sqlDB struct {
	driver  string
	section string // database.<section>
	port    int
	user    string
	name    string
	exec    func(t testing.TB, sql string, args ...any)
	count   func(t testing.TB, sql string, args ...any) int64
	selects func(t testing.TB) int64 // SELECTs run, from the database's own statistics
	stop    func()
	restart func() error
}

func sqlDBs(t *testing.T, private bool) []sqlDB {
	t.Helper()
	var pg *pgtest.DB
	var my *mysqltest.DB
	if private {
		pg, my = pgtest.StartPrivate(t), mysqltest.StartPrivate(t)
	} else {
		pg, my = pgtest.Start(t), mysqltest.Start(t)
	}
	return []sqlDB{
		{"pgsql", "postgres", pg.Port, "postgres", pg.Name, pg.Exec, pg.QueryInt,
			func(t testing.TB) int64 { return pg.Statements(t, "applications") }, pg.Stop, pg.Restart},
		{"mysql", "mysql", my.Port, "root", my.Name, my.Exec, my.QueryInt, my.Selects, my.Stop, my.Restart},
	}
}

func (d sqlDB) keyCol() string {
	if d.driver == "pgsql" {
		return `"key"`
	}
	return "`key`"
}

// insert writes a row the way Sockudo's dashboard does: the whole policy
// JSON, the flat columns and literal null in the unused JSON columns.
func (d sqlDB) insert(t *testing.T, id, key, secret string, maxConns int) {
	t.Helper()
	policy := fmt.Sprintf(`{"limits":{"max_connections":%d,"max_client_events_per_second":1000,"max_backend_events_per_second":1000,"max_read_requests_per_second":100},"features":{"enable_client_messages":false,"enable_user_authentication":false,"enable_watchlist_events":false},"channels":{"allowed_origins":["*"]},"webhooks":[]}`, maxConns)
	d.exec(t, fmt.Sprintf(`INSERT INTO applications (id, %s, secret, max_connections, enable_client_messages, enabled,
		max_backend_events_per_second, max_client_events_per_second, max_read_requests_per_second,
		policy, webhooks, allowed_origins, channel_delta_compression, idempotency, connection_recovery)
		VALUES ('%s', '%s', '%s', %d, false, true, 1000, 1000, 100, '%s', '[]', '["*"]', 'null', 'null', 'null')`,
		d.keyCol(), id, key, secret, maxConns, policy))
}

// setPolicy rewrites the policy JSON of a row, as the dashboard's update
// does, with the flat columns in step.
func (d sqlDB) setPolicyLimit(t *testing.T, id string, maxConns int) {
	t.Helper()
	policy := fmt.Sprintf(`{"limits":{"max_connections":%d,"max_client_events_per_second":1000},"features":{},"channels":{"allowed_origins":["*"]},"webhooks":[]}`, maxConns)
	d.exec(t, fmt.Sprintf("UPDATE applications SET policy = '%s', max_connections = %d WHERE id = '%s'", policy, maxConns, id))
}

// sqlNode starts a node reading its apps from d, refreshing every second,
// with the inline app file/file-key/file-secret in its config file.
func sqlNode(t *testing.T, d sqlDB, extra string) (n *node, port, mport int) {
	t.Helper()
	port, mport = freePort(t), freePort(t)
	cfg := fmt.Sprintf(`{"host":"127.0.0.1","port":%d,"metrics":{"host":"127.0.0.1","port":%d},
		"app_manager":{"driver":%q,"cache":{"enabled":true,"ttl":1},
			"array":{"apps":[{"id":"file","key":"file-key","secret":"file-secret","enable_subscription_count":true}]}},
		"database":{%q:{"host":"127.0.0.1","port":%d,"username":%q,"database":%q%s}}}`,
		port, mport, d.driver, d.section, d.port, d.user, d.name, extra)
	n, _ = startNode(t, cfg)
	t.Cleanup(func() { _ = n.shutdown() })
	return n, port, mport
}

// sqlSocket is a WebSocket client of one app.
type sqlSocket struct {
	t      *testing.T
	ws     *websocket.Conn
	socket string
}

// sqlDial connects to key; the first message (connection_established or
// pusher:error) is returned undecoded to the caller through m.
func sqlDial(t *testing.T, port int, key string) (*sqlSocket, map[string]any) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/app/"+key+"?protocol=7", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	s := &sqlSocket{t: t, ws: ws}
	m, err := s.read()
	if err != nil {
		t.Fatalf("first message: %v", err)
	}
	if m["event"] == protocol.EventConnectionEstablished {
		var d struct {
			SocketID string `json:"socket_id"`
		}
		_ = json.Unmarshal([]byte(m["data"].(string)), &d)
		s.socket = d.SocketID
	}
	return s, m
}

func (s *sqlSocket) read() (map[string]any, error) {
	for {
		_ = s.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := s.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			s.t.Fatalf("server sent %q", b)
		}
		if m["event"] != protocol.EventPing {
			return m, nil
		}
	}
}

// connected dials key and fails unless the connection is established.
func sqlConnected(t *testing.T, port int, key string) *sqlSocket {
	t.Helper()
	s, m := sqlDial(t, port, key)
	if s.socket == "" {
		t.Fatalf("key %s: %v, want connection_established", key, m)
	}
	return s
}

// refused dials key and returns the close code after pusher:error.
func sqlRefused(t *testing.T, port int, key string) int {
	t.Helper()
	s, m := sqlDial(t, port, key)
	if m["event"] != protocol.EventError {
		t.Fatalf("key %.40q: %v, want pusher:error", key, m)
	}
	return s.closeCode()
}

func (s *sqlSocket) closeCode() int {
	for {
		_, err := s.read()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			s.t.Fatalf("no close frame: %v", err)
		}
	}
}

// subscribePrivate signs a private channel with secret and reports
// whether the server accepted it.
func (s *sqlSocket) subscribePrivate(channel, key, secret string) bool {
	s.t.Helper()
	b, _ := json.Marshal(map[string]any{"event": protocol.EventSubscribe, "data": map[string]string{
		"channel": channel, "auth": key + ":" + protocol.SignChannel(secret, s.socket, channel, "")}})
	if err := s.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		s.t.Fatal(err)
	}
	for {
		m, err := s.read()
		if err != nil {
			s.t.Fatalf("subscribe %s: %v", channel, err)
		}
		switch m["event"] {
		case protocol.EventSubscriptionSucceeded:
			return true
		case protocol.EventSubscriptionError, protocol.EventError:
			return false
		}
	}
}

func sqlWait(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSQLAppsLive: apps that exist only in the table serve WebSocket
// clients and the HTTP API; rows inserted, updated (secret, limits,
// enabled) and deleted while the node runs take effect on new and open
// connections; the config file's app is written into the table; hostile
// keys are refused with 4001 and leave the table intact (10,000-character
// keys are refused by the HTTP layer before the store: see sqlstore).
func TestSQLAppsLive(t *testing.T) {
	for _, d := range sqlDBs(t, false) {
		t.Run(d.driver, func(t *testing.T) {
			_, port, mport := sqlNode(t, d, "")
			if n := d.count(t, "SELECT count(*) FROM applications WHERE id = 'file'"); n != 1 {
				t.Fatalf("inline app rows: %d", n)
			}
			sqlConnected(t, port, "file-key")

			d.insert(t, "db1", "db1-key", "db1-secret", 0)
			c := sqlConnected(t, port, "db1-key")
			if !c.subscribePrivate("private-a", "db1-key", "db1-secret") {
				t.Fatal("private channel signed with the row's secret refused")
			}
			api := &pusher.Client{AppID: "db1", Key: "db1-key", Secret: "db1-secret", Host: "127.0.0.1:" + strconv.Itoa(port)}
			if err := api.Trigger("private-a", "hello", map[string]string{"x": "1"}); err != nil {
				t.Fatalf("HTTP API of a table-only app: %v", err)
			}
			if m, err := c.read(); err != nil || m["event"] != "hello" {
				t.Fatalf("event: %v %v", m, err)
			}

			// A rotated secret applies to new signatures on the open
			// connection; the old secret stops working.
			d.exec(t, "UPDATE applications SET secret = 'rotated' WHERE id = 'db1'")
			sqlWait(t, "the rotated secret", func() bool { return c.subscribePrivate("private-b", "db1-key", "rotated") })
			if c.subscribePrivate("private-c", "db1-key", "db1-secret") {
				t.Fatal("the old secret still signs")
			}

			// A limit change (policy JSON, as the dashboard writes it).
			d.setPolicyLimit(t, "db1", 1)
			sqlWait(t, "max_connections 1", func() bool {
				s, m := sqlDial(t, port, "db1-key")
				if m["event"] != protocol.EventError {
					s.ws.Close()
					return false
				}
				return s.closeCode() == int(protocol.CodeAppOverQuota)
			})

			// Disabled: the open connection is closed with 4003.
			d.exec(t, "UPDATE applications SET enabled = false WHERE id = 'db1'")
			if code := c.closeCode(); code != int(protocol.CodeAppDisabled) {
				t.Fatalf("disabled app's connection closed with %d", code)
			}
			d.setPolicyLimit(t, "db1", 0)
			d.exec(t, "UPDATE applications SET enabled = true WHERE id = 'db1'")
			// The first socket established is kept: one dialled and
			// closed here could still count against a limit of 1.
			sqlWait(t, "re-enabled", func() bool {
				s, _ := sqlDial(t, port, "db1-key")
				if s.socket == "" {
					s.ws.Close()
					return false
				}
				c = s
				return true
			})
			d.exec(t, "DELETE FROM applications WHERE id = 'db1'")
			if code := c.closeCode(); code != int(protocol.CodeAppNotFound) {
				t.Fatalf("deleted app's connection closed with %d", code)
			}

			for _, k := range []string{`x' OR '1'='1`, "x%27%20OR%20%271%27=%271", "x;DROP%20TABLE%20applications", strings.Repeat("k", 3000), "%22%3B--"} {
				if code := sqlRefused(t, port, k); code != int(protocol.CodeAppNotFound) {
					t.Fatalf("hostile key %.40q closed with %d", k, code)
				}
			}
			if n := d.count(t, "SELECT count(*) FROM applications"); n != 1 {
				t.Fatalf("table has %d rows after hostile keys, want 1", n)
			}
			body := get(t, "http://127.0.0.1:"+strconv.Itoa(mport)+"/metrics")
			for _, want := range []string{`sockudo_app_store_lookups_total{result="hit"}`, `sockudo_active_connections{app_id="db1"}`} {
				if !strings.Contains(body, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}

// TestSQLOutage: the database stopped under a running node: an open
// connection of a cached app keeps working (the HTTP API too), an unknown
// key is closed with 4101 within a second, the API answers 503 with
// Retry-After for an app it cannot look up, /up says DEGRADED; after a
// restart everything recovers by itself.
func TestSQLOutage(t *testing.T) {
	for _, d := range sqlDBs(t, true) {
		t.Run(d.driver, func(t *testing.T) {
			_, port, _ := sqlNode(t, d, "")
			base := "http://127.0.0.1:" + strconv.Itoa(port)
			d.insert(t, "db1", "db1-key", "db1-secret", 0)
			c := sqlConnected(t, port, "db1-key")
			if !c.subscribePrivate("private-a", "db1-key", "db1-secret") {
				t.Fatal("subscribe")
			}
			d.stop()
			api := &pusher.Client{AppID: "db1", Key: "db1-key", Secret: "db1-secret", Host: "127.0.0.1:" + strconv.Itoa(port)}
			if err := api.Trigger("private-a", "during-outage", "x"); err != nil {
				t.Fatalf("HTTP API of a cached app during the outage: %v", err)
			}
			if m, err := c.read(); err != nil || m["event"] != "during-outage" {
				t.Fatalf("open connection during the outage: %v %v", m, err)
			}
			start := time.Now()
			if code := sqlRefused(t, port, "never-seen"); code != int(protocol.CodeStoreUnavailable) {
				t.Fatalf("unknown key during the outage closed with %d, want 4101", code)
			}
			if el := time.Since(start); el > 1500*time.Millisecond {
				t.Fatalf("unknown key answered after %v", el)
			}
			other := &pusher.Client{AppID: "unknown-app", Key: "k", Secret: "s", Host: "127.0.0.1:" + strconv.Itoa(port)}
			q := protocol.SignRequest("POST", "/apps/unknown-app/events", nil, []byte(`{}`), other.Key, other.Secret, time.Now())
			resp, err := http.Post(base+"/apps/unknown-app/events?"+q, "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("API for an app the store cannot look up: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if body := get(t, base+"/up"); !strings.Contains(body, "DEGRADED") {
				t.Fatalf("/up during the outage: %q", body)
			}
			if err := d.restart(); err != nil {
				t.Fatal(err)
			}
			sqlWait(t, "/up OK", func() bool { return get(t, base+"/up") == "OK" })
			d.insert(t, "db2", "db2-key", "db2-secret", 0)
			sqlWait(t, "a new app after recovery", func() bool {
				s, _ := sqlDial(t, port, "db2-key")
				defer s.ws.Close()
				return s.socket != ""
			})
		})
	}
}

// TestSQLDownAtStart: a node whose database is down at start-up starts
// with the config file's app (DEGRADED) and picks the table up once the
// database answers.
func TestSQLDownAtStart(t *testing.T) {
	for _, d := range sqlDBs(t, true) {
		t.Run(d.driver, func(t *testing.T) {
			d.stop()
			_, port, _ := sqlNode(t, d, "")
			base := "http://127.0.0.1:" + strconv.Itoa(port)
			sqlConnected(t, port, "file-key")
			if body := get(t, base+"/up"); !strings.Contains(body, "DEGRADED") {
				t.Fatalf("/up: %q", body)
			}
			if err := d.restart(); err != nil {
				t.Fatal(err)
			}
			sqlWait(t, "/up OK", func() bool { return get(t, base+"/up") == "OK" })
			d.insert(t, "db1", "db1-key", "s", 0)
			sqlConnected(t, port, "db1-key")
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// TestSQLQueryCount: 1,000 apps in the table, WebSocket connections on
// 200 of them (each app connected three times) and 10,000 connects with
// unknown keys cost about one query per app connected, as the database's
// own statistics count them, plus the periodic re-reads.
func TestSQLQueryCount(t *testing.T) {
	for _, d := range sqlDBs(t, false) {
		t.Run(d.driver, func(t *testing.T) {
			_, port, _ := sqlNode(t, d, "")
			var vals []string
			for i := range 1000 {
				vals = append(vals, fmt.Sprintf("('%d', 'key-%d', 'secret-%d', 0, 0)", i, i, i))
			}
			d.exec(t, "INSERT INTO applications (id, "+d.keyCol()+", secret, max_connections, max_client_events_per_second) VALUES "+strings.Join(vals, ","))
			time.Sleep(2500 * time.Millisecond) // a re-read or two: the key index now holds the 1,000 apps
			start, before := time.Now(), d.selects(t)
			for round := range 3 {
				for i := range 200 {
					c := sqlConnected(t, port, fmt.Sprintf("key-%d", i*5))
					if round < 2 {
						c.ws.Close()
					}
				}
			}
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < 10000; i += 8 {
						if code, err := closeCodeOf(port, fmt.Sprintf("bogus-%d", i)); code != int(protocol.CodeAppNotFound) {
							t.Errorf("unknown key closed with %d (%v)", code, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			n, secs := d.selects(t)-before, time.Since(start).Seconds()
			// One query per app connected; unknown keys: a burst of 5
			// probes, then 1 a second; re-reads (ttl 1): one query for the
			// key index and one per 500 cached apps, every second.
			limit := 200 + 5 + int64(secs) + int64(2*(secs+1)) + 10
			t.Logf("%s: 600 connects to 200 of 1,000 apps and 10,000 connects with unknown keys in %.1f s: %d SELECTs (limit %d)", d.driver, secs, n, limit)
			if n > limit {
				t.Fatalf("%d SELECTs, want at most %d", n, limit)
			}
		})
	}
}

// closeCodeOf dials key and returns the close code the server ends with;
// safe in any goroutine (no t.Fatal).
func closeCodeOf(port int, key string) (int, error) {
	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/app/"+key+"?protocol=7", nil)
	if err != nil {
		return 0, err
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, nil
			}
			return 0, err
		}
	}
}
