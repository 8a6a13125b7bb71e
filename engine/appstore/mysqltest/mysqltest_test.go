package mysqltest

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// TestStartStopRestart: the shared server gives each test its own
// database, and a private server survives Stop and Restart with its data.
func TestStartStopRestart(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Name == b.Name || a.Port != b.Port {
		t.Fatalf("databases %s/%d and %s/%d", a.Name, a.Port, b.Name, b.Port)
	}
	p := StartPrivate(t)
	p.Exec(t, "CREATE TABLE t (n int)")
	p.Exec(t, "INSERT INTO t VALUES (1)")
	before := p.Selects(t)
	p.Stop()
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if n := p.QueryInt(t, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("rows after restart: %d", n)
	}
	if n := p.Selects(t); n < 1 || before < 0 {
		t.Fatalf("Com_select %d", n)
	}
}
