package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// dashboardPolicy is a policy as Sockudo's operator dashboard writes it.
const dashboardPolicy = `{"limits":{"max_connections":77,"max_client_events_per_second":1000,"max_backend_events_per_second":1000,"max_read_requests_per_second":100},"features":{"enable_client_messages":true,"enable_user_authentication":false,"enable_watchlist_events":false},"channels":{"allowed_origins":["*"]},"webhooks":[{"url":"http://hooks.example/dash","event_types":["channel_occupied"]}]}`

// TestRowShapes: the table is created with Sockudo's schema; a row the
// dashboard wrote (policy JSON, flat columns, literal null JSON columns)
// is read from its policy; a flat row (SQL NULL or JSON null policy) from
// its flat and JSON columns; a row that does not parse is an error, not
// "unknown".
func TestRowShapes(t *testing.T) {
	for _, d := range databases(t, false) {
		t.Run(d.driver, func(t *testing.T) {
			s := newStore(t, d, nil)
			jsonCast := ""
			if d.driver == "pgsql" {
				jsonCast = "::jsonb"
			}
			d.exec(t, d.q(`INSERT INTO applications (id, `+d.keyCol()+`, secret, max_connections, enable_client_messages, enabled,
				max_backend_events_per_second, max_client_events_per_second, max_read_requests_per_second,
				policy, webhooks, allowed_origins, channel_delta_compression, idempotency, connection_recovery)
				VALUES ('dash', 'dash-key', 'dash-secret', 10000, false, true, 1000, 1000, 100,
				?`+jsonCast+`, '[]', '["*"]', 'null', 'null', 'null')`), dashboardPolicy)
			d.exec(t, `INSERT INTO applications (id, `+d.keyCol()+`, secret, max_connections, enable_client_messages, max_client_events_per_second,
				webhooks, allowed_origins, channel_delta_compression, idempotency, connection_recovery)
				VALUES ('flat', 'flat-key', 'flat-secret', 5, true, 10, '[{"url":"http://hooks.example/flat"}]', '["https://a.example"]', NULL, NULL, NULL)`)
			d.exec(t, `INSERT INTO applications (id, `+d.keyCol()+`, secret, max_connections, max_client_events_per_second, policy, webhooks, allowed_origins)
				VALUES ('nullpolicy', 'np-key', 'np-secret', 9, 10, 'null', 'null', 'null')`)
			d.exec(t, `INSERT INTO applications (id, `+d.keyCol()+`, secret, max_connections, max_client_events_per_second, enabled)
				VALUES ('off', 'off-key', 'off-secret', 0, 0, false)`)
			d.exec(t, `INSERT INTO applications (id, `+d.keyCol()+`, secret, max_connections, max_client_events_per_second)
				VALUES ('bad', 'bad-key', '', 0, 0)`)

			a, err := s.AppByKey("dash-key")
			if err != nil || a.ID != "dash" || a.MaxConnections != 77 || !a.EnableClientMessages || len(a.Webhooks) != 1 || a.Webhooks[0].URL != "http://hooks.example/dash" {
				t.Fatalf("dashboard row: %+v %v (want the policy's values)", a, err)
			}
			a, err = s.AppByID("flat")
			if err != nil || a.Key != "flat-key" || a.MaxConnections != 5 || !a.EnableClientMessages ||
				len(a.AllowedOrigins) != 1 || a.AllowedOrigins[0] != "https://a.example" || len(a.Webhooks) != 1 {
				t.Fatalf("flat row: %+v %v", a, err)
			}
			a, err = s.AppByKey("np-key")
			if err != nil || a.MaxConnections != 9 || a.AllowedOrigins != nil || a.Webhooks != nil {
				t.Fatalf("JSON null columns: %+v %v", a, err)
			}
			if a, err := s.AppByKey("off-key"); err != nil || a.Enabled {
				t.Fatalf("disabled row: %+v %v", a, err)
			}
			if _, err := s.AppByKey("bad-key"); err == nil || errors.Is(err, engine.ErrAppNotFound) {
				t.Fatalf("unparsable row: %v, want an error other than not found", err)
			}
			if _, err := s.AppByKey("nope"); !errors.Is(err, engine.ErrAppNotFound) {
				t.Fatalf("unknown key: %v", err)
			}
			// A second store on the same table: the DDL is idempotent.
			newStore(t, d, nil)
		})
	}
}

// TestOldSchemaGetsJSONColumns: a table from an older Sockudo without the
// JSON columns gets them added, as Sockudo does.
func TestOldSchemaGetsJSONColumns(t *testing.T) {
	for _, d := range databases(t, false) {
		t.Run(d.driver, func(t *testing.T) {
			d.exec(t, `CREATE TABLE applications (id VARCHAR(255) PRIMARY KEY, `+d.keyCol()+` VARCHAR(255) NOT NULL UNIQUE,
				secret VARCHAR(255) NOT NULL, max_connections INTEGER NOT NULL, enable_client_messages BOOLEAN NOT NULL DEFAULT FALSE,
				enabled BOOLEAN NOT NULL DEFAULT TRUE, max_backend_events_per_second INTEGER, max_client_events_per_second INTEGER NOT NULL,
				max_read_requests_per_second INTEGER, max_presence_members_per_channel INTEGER, max_presence_member_size_in_kb INTEGER,
				max_channel_name_length INTEGER, max_event_channels_at_once INTEGER, max_event_name_length INTEGER,
				max_event_payload_in_kb INTEGER, max_event_batch_size INTEGER, enable_user_authentication BOOLEAN,
				enable_watchlist_events BOOLEAN)`)
			d.insert(t, "1", "k1", "s1")
			s := newStore(t, d, nil)
			if a, err := s.AppByKey("k1"); err != nil || a.Secret != "s1" {
				t.Fatalf("%+v %v", a, err)
			}
		})
	}
}

// TestKeysExactAndHostile: MySQL's case-insensitive collation does not make
// `ABC` find `abc`; hostile keys are refused as unknown, the long ones
// without a query, and the table is intact.
func TestKeysExactAndHostile(t *testing.T) {
	for _, d := range databases(t, false) {
		t.Run(d.driver, func(t *testing.T) {
			// No periodic re-read: it would count among the queries below
			// whenever the loaded box stretches the test past 200 ms.
			s := newStore(t, d, func(o *Options) { o.RefreshInterval = time.Hour })
			d.insert(t, "1", "abc", "s")
			if _, err := s.AppByKey("ABC"); !errors.Is(err, engine.ErrAppNotFound) {
				t.Fatalf("ABC found abc: %v", err)
			}
			if a, err := s.AppByKey("abc"); err != nil || a.ID != "1" {
				t.Fatalf("abc: %+v %v", a, err)
			}
			before := d.selects(t)
			long := []string{strings.Repeat("k", 10000), strings.Repeat("x", 256), "caf\xc3\xa9", "nul\x00byte", ""}
			for _, k := range long {
				if _, err := s.AppByKey(k); !errors.Is(err, engine.ErrAppNotFound) {
					t.Fatalf("key of %d bytes: %v", len(k), err)
				}
				if _, err := s.AppByID(k); !errors.Is(err, engine.ErrAppNotFound) {
					t.Fatalf("id of %d bytes: %v", len(k), err)
				}
			}
			if n := d.selects(t) - before; n > 1 { // the statistics query itself may count
				t.Fatalf("keys the columns cannot hold made %d queries", n)
			}
			hostile := []string{`' OR '1'='1`, `abc' --`, `"; DROP TABLE applications; --`, `abc%`, `%`, `_bc`, `\`, `1; DELETE FROM applications`}
			for _, k := range hostile {
				if _, err := s.AppByKey(k); !errors.Is(err, engine.ErrAppNotFound) {
					t.Fatalf("key %q: %v", k, err)
				}
				if _, err := s.AppByID(k); !errors.Is(err, engine.ErrAppNotFound) {
					t.Fatalf("id %q: %v", k, err)
				}
			}
			if n := d.count(t, "SELECT count(*) FROM applications"); n != 1 {
				t.Fatalf("table has %d rows after hostile keys, want 1", n)
			}
		})
	}
}

// TestChangesNoticed: a row updated (secret, enabled, limits, key) or
// deleted behind the store's back is reported through OnChange within the
// refresh interval and served from then on.
func TestChangesNoticed(t *testing.T) {
	for _, d := range databases(t, false) {
		t.Run(d.driver, func(t *testing.T) {
			var ch changes
			s := newStore(t, d, func(o *Options) { o.OnChange = ch.on })
			d.insert(t, "1", "k1", "old")
			if a, err := s.AppByKey("k1"); err != nil || a.Secret != "old" {
				t.Fatalf("%+v %v", a, err)
			}
			d.exec(t, "UPDATE applications SET secret = 'new', max_connections = 3 WHERE id = '1'")
			ch.wait(t, "1", func(a *engine.App) bool { return a != nil && a.Secret == "new" && a.MaxConnections == 3 })
			if a, _ := s.AppByKey("k1"); a.Secret != "new" {
				t.Fatalf("cache still serves secret %q", a.Secret)
			}
			d.exec(t, "UPDATE applications SET enabled = false WHERE id = '1'")
			ch.wait(t, "1", func(a *engine.App) bool { return a != nil && !a.Enabled })
			d.exec(t, "UPDATE applications SET "+d.keyCol()+" = 'k2', enabled = true WHERE id = '1'")
			ch.wait(t, "1", func(a *engine.App) bool { return a != nil && a.Key == "k2" })
			if _, err := s.AppByKey("k1"); !errors.Is(err, engine.ErrAppNotFound) {
				t.Fatalf("old key after rotation: %v", err)
			}
			if a, err := s.AppByKey("k2"); err != nil || a.ID != "1" {
				t.Fatalf("new key: %+v %v", a, err)
			}
			d.exec(t, "DELETE FROM applications WHERE id = '1'")
			ch.wait(t, "1", func(a *engine.App) bool { return a == nil })
			if _, err := s.AppByKey("k2"); !errors.Is(err, engine.ErrAppNotFound) {
				t.Fatalf("deleted app: %v", err)
			}
		})
	}
}

// TestQueryCounts: 1,000 apps, 200 of them looked up 50 times each, cost
// about one query per app looked up (the database's own statistics);
// 10,000 lookups of unknown keys, a handful; 100 concurrent lookups of one
// new key, one.
func TestQueryCounts(t *testing.T) {
	for _, d := range databases(t, false) {
		t.Run(d.driver, func(t *testing.T) {
			var vals []string
			for i := range 1000 {
				vals = append(vals, fmt.Sprintf("('%d', 'key-%d', 'secret-%d', 0, 0)", i, i, i))
			}
			s := newStore(t, d, func(o *Options) { o.RefreshInterval = time.Hour })
			d.exec(t, "INSERT INTO applications (id, "+d.keyCol()+", secret, max_connections, max_client_events_per_second) VALUES "+strings.Join(vals, ","))
			s.tick() // the key index now knows the 1,000 apps, as after any refresh
			obs := &counter{}
			s.obs = obs
			before := d.selects(t)
			for range 50 {
				for i := range 200 {
					if a, err := s.AppByKey(fmt.Sprintf("key-%d", i*5)); err != nil || a.ID != fmt.Sprint(i*5) {
						t.Fatalf("key-%d: %+v %v", i*5, a, err)
					}
				}
			}
			n := d.selects(t) - before
			t.Logf("10,000 lookups of 200 of 1,000 apps: %d SELECTs", n)
			if n > 210 {
				t.Fatalf("10,000 lookups of 200 apps made %d queries, want about 200", n)
			}
			if obs.get("hit") != 9800 || obs.get("miss") != 200 {
				t.Fatalf("counted %v", obs.byRes)
			}
			before = d.selects(t)
			for i := range 10000 {
				if _, err := s.AppByKey(fmt.Sprintf("bogus-%d", i%5000)); !errors.Is(err, engine.ErrAppNotFound) {
					t.Fatalf("bogus key: %v", err)
				}
			}
			n = d.selects(t) - before
			t.Logf("10,000 lookups of unknown keys: %d SELECTs", n)
			if n > 10 {
				t.Fatalf("10,000 lookups of unknown keys made %d queries", n)
			}
			d.insert(t, "new", "new-key", "s")
			time.Sleep(time.Second) // the probe budget refills
			before = d.selects(t)
			var wg sync.WaitGroup
			for range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.AppByKey("new-key"); err != nil {
						t.Errorf("new key: %v", err)
					}
				}()
			}
			wg.Wait()
			n = d.selects(t) - before
			t.Logf("100 concurrent lookups of one new key: %d SELECTs", n)
			if n > 3 {
				t.Fatalf("100 concurrent lookups of one key made %d queries", n)
			}
		})
	}
}

// TestInlineAppsNeverOverwrite: an inline app whose id is in the table is
// not written (the operator's row wins); an absent one is inserted and
// reads back as given; one the table refuses is logged and skipped.
func TestInlineAppsNeverOverwrite(t *testing.T) {
	for _, d := range databases(t, false) {
		t.Run(d.driver, func(t *testing.T) {
			newStore(t, d, nil) // creates the table
			d.insert(t, "1", "k1", "operator")
			s := newStore(t, d, func(o *Options) {
				o.RegisterInline = true
				o.Inline = []InlineApp{
					{App: &engine.App{ID: "1", Key: "k1", Secret: "file", Enabled: true}},
					// Too long for the column: logged, and the others still go in.
					{App: &engine.App{ID: strings.Repeat("x", 300), Key: "long", Secret: "s", Enabled: true}},
					{App: &engine.App{ID: "2", Key: "k2", Secret: "file2", Enabled: true, MaxConnections: 7, AllowedOrigins: []string{"https://x.example"}},
						Policy: []byte(`{"limits":{"max_connections":7},"channels":{"allowed_origins":["https://x.example"]}}`), Webhooks: []byte(`[]`)},
				}
			})
			if st := s.StoreState(); st != engine.StoreOK {
				t.Fatalf("a failed inline insert left the store %v", st)
			}
			if a, err := s.AppByID("1"); err != nil || a.Secret != "operator" {
				t.Fatalf("operator row: %+v %v", a, err)
			}
			if a, err := s.AppByKey("k2"); err != nil || a.Secret != "file2" || a.MaxConnections != 7 || len(a.AllowedOrigins) != 1 {
				t.Fatalf("inserted inline app: %+v %v", a, err)
			}
			if n := d.count(t, "SELECT count(*) FROM applications"); n != 2 {
				t.Fatalf("%d rows", n)
			}
		})
	}
}

// TestOutageWhileRunning: with the database stopped, a cached app is
// still served, an unknown key is an error (not "not found") within a
// second, the state is DEGRADED; after a restart it recovers by itself.
func TestOutageWhileRunning(t *testing.T) {
	for _, d := range databases(t, true) {
		t.Run(d.driver, func(t *testing.T) {
			s := newStore(t, d, nil)
			d.insert(t, "1", "k1", "s1")
			if _, err := s.AppByKey("k1"); err != nil {
				t.Fatal(err)
			}
			d.stop()
			for i := range 3 {
				start := time.Now()
				_, err := s.AppByKey(fmt.Sprintf("unknown-%d", i))
				if err == nil || errors.Is(err, engine.ErrAppNotFound) {
					t.Fatalf("unknown key with the database down: %v, want an error other than not found", err)
				}
				if el := time.Since(start); el > 1500*time.Millisecond {
					t.Fatalf("unknown key answered after %v", el)
				}
			}
			if a, err := s.AppByKey("k1"); err != nil || a.Secret != "s1" {
				t.Fatalf("cached app with the database down: %+v %v", a, err)
			}
			eventually(t, "DEGRADED", func() bool { return s.StoreState() == engine.StoreDegraded })
			time.Sleep(500 * time.Millisecond) // a few refreshes fail
			if a, err := s.AppByID("1"); err != nil || a.Secret != "s1" {
				t.Fatalf("cached app after failed refreshes: %+v %v", a, err)
			}
			if err := d.restart(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "OK", func() bool { return s.StoreState() == engine.StoreOK })
			d.insert(t, "2", "k2", "s2")
			eventually(t, "the new app", func() bool { a, err := s.AppByKey("k2"); return err == nil && a.ID == "2" })
		})
	}
}

// TestDownAtStart: a database unreachable at start-up is not fatal: the
// config file's apps are served (DEGRADED), or nothing (DOWN) without
// any; once it answers, the table is created, the inline apps written
// and the state OK.
func TestDownAtStart(t *testing.T) {
	for _, d := range databases(t, true) {
		t.Run(d.driver, func(t *testing.T) {
			d.stop()
			empty := newStore(t, d, func(o *Options) { o.StartTimeout = 500 * time.Millisecond })
			if st := empty.StoreState(); st != engine.StoreDown {
				t.Fatalf("no apps, database down: %v", st)
			}
			s := newStore(t, d, func(o *Options) {
				o.StartTimeout = 500 * time.Millisecond
				o.RegisterInline = true
				o.Inline = []InlineApp{{App: &engine.App{ID: "1", Key: "k1", Secret: "file", Enabled: true}}}
			})
			if st := s.StoreState(); st != engine.StoreDegraded {
				t.Fatalf("inline apps, database down: %v", st)
			}
			if a, err := s.AppByKey("k1"); err != nil || a.Secret != "file" {
				t.Fatalf("inline app: %+v %v", a, err)
			}
			if _, err := s.AppByKey("other"); err == nil || errors.Is(err, engine.ErrAppNotFound) {
				t.Fatalf("unknown key: %v", err)
			}
			if err := d.restart(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "OK", func() bool { return s.StoreState() == engine.StoreOK && empty.StoreState() == engine.StoreOK })
			if n := d.count(t, "SELECT count(*) FROM applications WHERE id = '1'"); n != 1 {
				t.Fatalf("inline app not written after recovery: %d rows", n)
			}
		})
	}
}

// TestNotify: with PostgreSQL notifications a change applies well before
// the (hour-long) refresh interval.
func TestNotify(t *testing.T) {
	d := databases(t, false)[0]
	var ch changes
	s := newStore(t, d, func(o *Options) { o.Notify = true; o.RefreshInterval = time.Hour; o.OnChange = ch.on })
	d.insert(t, "1", "k1", "old")
	if _, err := s.AppByKey("k1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d.exec(t, "UPDATE applications SET secret = 'new' WHERE id = '1'")
	ch.wait(t, "1", func(a *engine.App) bool { return a != nil && a.Secret == "new" })
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("change applied after %v", el)
	}
	// An app inserted after a lookup missed it is found at once.
	if _, err := s.AppByKey("k2"); !errors.Is(err, engine.ErrAppNotFound) {
		t.Fatal(err)
	}
	d.insert(t, "2", "k2", "s")
	eventually(t, "the inserted app", func() bool { _, err := s.AppByKey("k2"); return err == nil })
	d.exec(t, "DELETE FROM applications WHERE id = '1'")
	ch.wait(t, "1", func(a *engine.App) bool { return a == nil })
}

// TestNoCache: with app_manager.cache.enabled false every lookup reads the
// row (an update is seen by the next lookup, no refresh needed), and the
// last copy is still served while the database is down.
func TestNoCache(t *testing.T) {
	for _, d := range databases(t, true) {
		t.Run(d.driver, func(t *testing.T) {
			var ch changes
			s := newStore(t, d, func(o *Options) { o.NoCache = true; o.RefreshInterval = time.Hour; o.OnChange = ch.on })
			d.insert(t, "1", "k1", "old")
			if a, err := s.AppByKey("k1"); err != nil || a.Secret != "old" {
				t.Fatalf("%+v %v", a, err)
			}
			d.exec(t, "UPDATE applications SET secret = 'new' WHERE id = '1'")
			if a, err := s.AppByKey("k1"); err != nil || a.Secret != "new" {
				t.Fatalf("uncached lookup after an update: %+v %v", a, err)
			}
			// The open connections follow what the lookup read.
			ch.wait(t, "1", func(a *engine.App) bool { return a != nil && a.Secret == "new" })
			before := d.selects(t)
			for range 5 {
				if _, err := s.AppByID("1"); err != nil {
					t.Fatal(err)
				}
			}
			if n := d.selects(t) - before; n < 5 {
				t.Fatalf("5 uncached lookups made %d queries", n)
			}
			d.stop()
			if a, err := s.AppByKey("k1"); err != nil || a.Secret != "new" {
				t.Fatalf("last copy during an outage: %+v %v", a, err)
			}
		})
	}
}

// TestRestartUnnoticed: after a database restart the store did not notice
// (no refresh in between), the next lookup succeeds: the pooled
// connections the server closed are not an outage.
func TestRestartUnnoticed(t *testing.T) {
	for _, d := range databases(t, true) {
		t.Run(d.driver, func(t *testing.T) {
			s := newStore(t, d, func(o *Options) { o.RefreshInterval = time.Hour; o.Conn.PoolMin = 3 })
			d.insert(t, "1", "k1", "s1")
			d.insert(t, "2", "k2", "s2")
			if _, err := s.AppByKey("k1"); err != nil {
				t.Fatal(err)
			}
			d.stop()
			if err := d.restart(); err != nil {
				t.Fatal(err)
			}
			if a, err := s.AppByKey("k2"); err != nil || a.ID != "2" {
				t.Fatalf("first lookup after a restart: %+v %v", a, err)
			}
		})
	}
}
