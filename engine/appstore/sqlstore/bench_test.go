package sqlstore

import (
	"fmt"
	"testing"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
)

// benchApps is the app count both benchmarks hold: a connect looks one of
// them up by key.
const benchApps = 1000

// BenchmarkStaticAppByKey is the memory driver's lookup, the bar a cached
// SQL lookup must meet.
func BenchmarkStaticAppByKey(b *testing.B) {
	apps := make([]*engine.App, benchApps)
	for i := range apps {
		apps[i] = &engine.App{ID: fmt.Sprint(i), Key: fmt.Sprintf("key-%d", i), Secret: "s", Enabled: true}
	}
	s, err := appstore.NewStatic(apps)
	if err != nil {
		b.Fatal(err)
	}
	benchLookup(b, s)
}

// BenchmarkSQLAppByKeyCached is the SQL store's lookup of cached apps: no
// query, a pointer load and a map lookup.
func BenchmarkSQLAppByKeyCached(b *testing.B) {
	db := pgtest.Start(b)
	s, err := New(Options{Driver: "pgsql", Conn: Conn{Host: "127.0.0.1", Port: db.Port, Username: "postgres", Database: db.Name}, Parse: testParse})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	var vals string
	for i := range benchApps {
		if i > 0 {
			vals += ","
		}
		vals += fmt.Sprintf("('%d', 'key-%d', 's', 0, 0)", i, i)
	}
	db.Exec(b, `INSERT INTO applications (id, "key", secret, max_connections, max_client_events_per_second) VALUES `+vals)
	s.tick()
	for i := range benchApps {
		if _, err := s.AppByKey(fmt.Sprintf("key-%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	s.tick() // a refresh: every cached app on the lock-free path
	// The database and the store's background work are stopped: their
	// CPU on this machine is not the lookup's, and cached apps need
	// neither.
	s.Close()
	db.Stop()
	benchLookup(b, s)
}

func benchLookup(b *testing.B, s engine.AppStore) {
	keys := make([]string, benchApps)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := s.AppByKey(keys[i%benchApps]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.AppByKey(keys[i%benchApps]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}

// TestCachedLookupDoesNotAllocate gates the steady state: a connect of a
// cached app allocates nothing in the store.
func TestCachedLookupDoesNotAllocate(t *testing.T) {
	d := databases(t, false)[0]
	s := newStore(t, d, nil)
	d.insert(t, "1", "k1", "s")
	if _, err := s.AppByKey("k1"); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(1000, func() { _, _ = s.AppByKey("k1") }); a != 0 {
		t.Fatalf("%v allocs per cached lookup", a)
	}
}
