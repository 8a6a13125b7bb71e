package pgserver

import (
	"os"
	"strings"
	"testing"
)

// TestStartQueryStop: a server starts, answers SQL with pg_stat_statements
// loaded, reports the CPU of its process tree, and Stop removes its
// directory. Without the binaries it skips (fails under CI=true).
func TestStartQueryStop(t *testing.T) {
	if _, err := Bin(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s, err := Start("jit=off")
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			s.Stop()
		}
	}()
	out, err := s.SQL("CREATE TABLE t (n int); INSERT INTO t SELECT generate_series(1, 1000); SELECT sum(n) FROM t; SHOW jit")
	if err != nil || !strings.Contains(out, "500500") || !strings.Contains(out, " off") {
		t.Fatalf("SQL: %v\n%s", err, out)
	}
	top, err := s.TopStatements()
	if err != nil || !strings.Contains(top, "generate_series") {
		t.Fatalf("TopStatements: %v\n%s", err, top)
	}
	if cpu := s.CPU(); cpu <= 0 {
		t.Fatalf("CPU of the postgres processes = %d µs", cpu)
	}
	if err := s.ResetStatements(); err != nil {
		t.Fatal(err)
	}
	dir := s.Dir
	s.Stop()
	stopped = true
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after Stop (%v)", dir, err)
	}
}
