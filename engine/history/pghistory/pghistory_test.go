package pghistory_test

import (
	"context"
	"os"
	"testing"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/appstore/pgtest"
	"github.com/sockudo/sockudo-go/engine/history/pghistory"
	"github.com/sockudo/sockudo-go/engine/history/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Cleanup()
	os.Exit(code)
}

func open(t testing.TB, db *pgtest.DB, o pghistory.Options) *pghistory.Store {
	t.Helper()
	o.URL = db.URL
	s, err := pghistory.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPostgresContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, c *storetest.Clock) engine.HistoryStore {
		return open(t, pgtest.Start(t), pghistory.Options{Now: c.Now})
	})
}

// TestPostgresTablePrefix: the tables carry history.postgres.table_prefix
// and a prefix that is not a plain identifier is refused.
func TestPostgresTablePrefix(t *testing.T) {
	db := pgtest.Start(t)
	s := open(t, db, pghistory.Options{TablePrefix: "custom_hist"})
	if _, _, err := s.Reserve(context.Background(), "a", "c", 3); err != nil {
		t.Fatal(err)
	}
	if n := db.QueryInt(t, `SELECT next_serial FROM custom_hist_streams WHERE app_id='a' AND channel='c'`); n != 4 {
		t.Fatalf("next_serial %d, want 4", n)
	}
	if _, err := pghistory.New(pghistory.Options{URL: db.URL, TablePrefix: "x; DROP"}); err == nil {
		t.Fatal("a prefix with SQL in it was accepted")
	}
}
