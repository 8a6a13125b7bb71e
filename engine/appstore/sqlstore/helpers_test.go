package sqlstore

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore/mysqltest"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Cleanup()
	mysqltest.Cleanup()
	os.Exit(code)
}

// testDB is one real database a table-driven test runs against.
type testDB struct {
	driver  string
	conn    Conn
	exec    func(t testing.TB, sql string, args ...any)
	count   func(t testing.TB, sql string, args ...any) int64
	selects func(t testing.TB) int64 // SELECTs on the app table, from the database's statistics
	stop    func()
	restart func() error
}

// databases starts PostgreSQL and MariaDB (a private server each when
// private, for outage tests) and returns one empty database on each.
func databases(t *testing.T, private bool) []testDB {
	t.Helper()
	var out []testDB
	var pg *pgtest.DB
	if private {
		pg = pgtest.StartPrivate(t)
	} else {
		pg = pgtest.Start(t)
	}
	out = append(out, testDB{
		driver:  "pgsql",
		conn:    Conn{Host: "127.0.0.1", Port: pg.Port, Username: "postgres", Database: pg.Name},
		exec:    pg.Exec,
		count:   pg.QueryInt,
		selects: func(t testing.TB) int64 { return pg.Statements(t, "applications") },
		stop:    pg.Stop, restart: pg.Restart,
	})
	var my *mysqltest.DB
	if private {
		my = mysqltest.StartPrivate(t)
	} else {
		my = mysqltest.Start(t)
	}
	out = append(out, testDB{
		driver:  "mysql",
		conn:    Conn{Host: "127.0.0.1", Port: my.Port, Username: "root", Database: my.Name},
		exec:    my.Exec,
		count:   my.QueryInt,
		selects: my.Selects,
		stop:    my.Stop, restart: my.Restart,
	})
	return out
}

// q adapts a statement written with ? placeholders to the driver.
func (d testDB) q(sql string) string {
	if d.driver != "pgsql" {
		return sql
	}
	var b strings.Builder
	n := 0
	for _, c := range sql {
		if c == '?' {
			n++
			b.WriteString("$" + string(rune('0'+n)))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// keyCol is the key column quoted for the driver.
func (d testDB) keyCol() string {
	if d.driver == "pgsql" {
		return `"key"`
	}
	return "`key`"
}

// insert writes a minimal flat row.
func (d testDB) insert(t testing.TB, id, key, secret string) {
	t.Helper()
	d.exec(t, d.q("INSERT INTO applications (id, "+d.keyCol()+", secret, max_connections, max_client_events_per_second) VALUES (?, ?, ?, 0, 0)"), id, key, secret)
}

// testParse decodes the fields the tests look at, in both forms; the
// real parser (configs) is exercised by cmd/sockudo's tests.
func testParse(js []byte) (*engine.App, error) {
	var v struct {
		ID, Key, Secret      string
		Enabled              *bool
		MaxConnections       int      `json:"max_connections"`
		EnableClientMessages bool     `json:"enable_client_messages"`
		AllowedOrigins       []string `json:"allowed_origins"`
		Webhooks             []struct{ URL string }
		Policy               *struct {
			Limits struct {
				MaxConnections int `json:"max_connections"`
			}
			Features struct {
				EnableClientMessages bool `json:"enable_client_messages"`
			}
			Channels struct {
				AllowedOrigins []string `json:"allowed_origins"`
			}
			Webhooks []struct{ URL string }
		}
	}
	if err := json.Unmarshal(js, &v); err != nil {
		return nil, err
	}
	if v.Secret == "" {
		return nil, errors.New("secret is required")
	}
	a := &engine.App{ID: v.ID, Key: v.Key, Secret: v.Secret, Enabled: v.Enabled == nil || *v.Enabled,
		MaxConnections: v.MaxConnections, EnableClientMessages: v.EnableClientMessages, AllowedOrigins: v.AllowedOrigins}
	hooks := v.Webhooks
	if p := v.Policy; p != nil {
		a.MaxConnections, a.EnableClientMessages, a.AllowedOrigins = p.Limits.MaxConnections, p.Features.EnableClientMessages, p.Channels.AllowedOrigins
		hooks = p.Webhooks
	}
	for _, h := range hooks {
		a.Webhooks = append(a.Webhooks, engine.Webhook{URL: h.URL})
	}
	return a, nil
}

// changes records OnChange calls.
type changes struct {
	mu   sync.Mutex
	seen map[string][]*engine.App
}

func (c *changes) on(id string, app *engine.App) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string][]*engine.App{}
	}
	c.seen[id] = append(c.seen[id], app)
}

// wait polls until the last change of id satisfies ok.
func (c *changes) wait(t *testing.T, id string, ok func(*engine.App) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c.mu.Lock()
		list := c.seen[id]
		c.mu.Unlock()
		if len(list) > 0 && ok(list[len(list)-1]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching change of app %s (changes: %v)", id, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counter is an Observer counting by result.
type counter struct {
	mu     sync.Mutex
	byRes  map[string]int
	errors int
}

func (c *counter) AppStoreLookup(r string) {
	c.mu.Lock()
	if c.byRes == nil {
		c.byRes = map[string]int{}
	}
	c.byRes[r]++
	c.mu.Unlock()
}

func (c *counter) AppStoreError() { c.mu.Lock(); c.errors++; c.mu.Unlock() }

func (c *counter) get(r string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.byRes[r] }

func newStore(t *testing.T, d testDB, mod func(*Options)) *Store {
	t.Helper()
	o := Options{Driver: d.driver, Conn: d.conn, Parse: testParse, RefreshInterval: 200 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
