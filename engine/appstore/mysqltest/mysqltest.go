// Package mysqltest runs a private MariaDB server (MySQL-compatible) for
// tests: the SQL app store is tested against the real database, never a
// mock. mariadb-install-db initialises a temporary directory, and
// mariadbd listens on a free 127.0.0.1 port and a unix socket there, with
// grant tables skipped (any user, no password). It is killed when the test
// binary ends.
//
// Without the binaries (Debian package mariadb-server) a test skips with
// a message, or fails when CI=true (CI installs them).
package mysqltest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the driver under test's name "mysql"

	"github.com/sockudo/sockudo-go/engine/internal/testproc"
)

// Server is one mariadbd process and its data directory.
type Server struct {
	// Port is the TCP port on 127.0.0.1.
	Port int

	bin     string
	install string
	dir     string
	proc    testproc.Proc

	dbs atomic.Int64
}

// DB is one database created for one test on a Server.
type DB struct {
	*Server
	// Name is the database name.
	Name string
	// DSN is a go-sql-driver/mysql DSN for the database (user root).
	DSN string
}

var shared testproc.Shared[*Server]

// Start returns a fresh, empty database on the test binary's shared
// server, starting that server on first use. Tests that stop the server
// must use StartPrivate instead.
func Start(t testing.TB) *DB {
	t.Helper()
	bin, install := binaries(t)
	return shared.Get(t, func() (*Server, error) { return newServer(bin, install) }).newDB(t)
}

// StartPrivate starts a server of the test's own, stopped and removed at
// the test's cleanup, and returns a fresh database on it.
func StartPrivate(t testing.TB) *DB {
	t.Helper()
	bin, install := binaries(t)
	s, err := newServer(bin, install)
	if err != nil {
		t.Fatal(err)
	}
	testproc.RemoveAtCleanup(t, "mariadbd", s.logPath(), s.remove)
	return s.newDB(t)
}

// Cleanup stops the shared server and removes its directory. Call it from
// TestMain after m.Run; without it the server is killed when the test
// binary exits (parent-death signal) but its directory stays.
func Cleanup() {
	shared.Close((*Server).remove)
}

func binaries(t testing.TB) (server, install string) {
	t.Helper()
	server, install = "/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db"
	if p, err := exec.LookPath("mariadbd"); err == nil {
		server = p
	}
	if p, err := exec.LookPath("mariadb-install-db"); err == nil {
		install = p
	}
	if testproc.IsExec(server) && testproc.IsExec(install) {
		return server, install
	}
	testproc.Missing(t, "mariadbd/mariadb-install-db not found: install the Debian package mariadb-server (apt-get install mariadb-server)")
	return "", ""
}

func newServer(bin, install string) (*Server, error) {
	home, err := testproc.NewHome("mysqltest-")
	if err != nil {
		return nil, err
	}
	dir, port := home.Dir, home.Port
	s := &Server{bin: bin, install: install, dir: dir, Port: port}
	// Stop is SIGKILL (the default), as a crash looks to clients.
	s.proc = testproc.Proc{Name: fmt.Sprintf("mariadbd on port %d", port), Log: s.logPath(), Command: s.mariadbd,
		Ready: s.ping, ReadyWithin: time.Minute}
	// Each server has its own temporary directory: bootstraps of servers
	// started at once by parallel test binaries must not share /tmp files.
	if err := os.Mkdir(s.tmpDir(), 0o700); err != nil {
		s.remove()
		return nil, err
	}
	args := []string{"--no-defaults", "--datadir=" + s.dataDir(), "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve", "--tmpdir=" + s.tmpDir()}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.Command(install, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("mysqltest: mariadb-install-db: %v\n%s", err, out)
	}
	if err := s.Restart(); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.dir, "mariadbd.log") }
func (s *Server) tmpDir() string  { return filepath.Join(s.dir, "tmp") }

// mariadbd is the server's command line.
func (s *Server) mariadbd() *exec.Cmd {
	args := []string{"--no-defaults", "--datadir=" + s.dataDir(), "--socket=" + filepath.Join(s.dir, "mysqld.sock"),
		"--port=" + strconv.Itoa(s.Port), "--bind-address=127.0.0.1", "--skip-grant-tables", "--skip-name-resolve",
		"--pid-file=" + filepath.Join(s.dir, "mysqld.pid"), "--log-error=" + s.logPath(), "--tmpdir=" + s.tmpDir(),
		"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--performance-schema=OFF",
		// Commits reach the kernel at once: Stop (a kill) loses nothing.
		"--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0", "--max-connections=300"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	return cmd
}

// Restart starts the server again on the same port and data directory
// (after Stop, for outage tests) and waits until it accepts connections.
func (s *Server) Restart() error { return s.proc.Start() }

// Stop kills the server at once (SIGKILL), as a crash looks to clients.
func (s *Server) Stop() { s.proc.Stop() }

func (s *Server) ping() error {
	db, err := sql.Open("mysql", s.dsn(""))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

func (s *Server) remove() {
	s.Stop()
	_ = os.RemoveAll(s.dir)
}

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s?timeout=5s", s.Port, db)
}

func (s *Server) newDB(t testing.TB) *DB {
	t.Helper()
	name := "test_" + strconv.FormatInt(s.dbs.Add(1), 10)
	d := &DB{Server: s, Name: name, DSN: s.dsn(name)}
	db, err := sql.Open("mysql", s.dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("mysqltest: create database: %v", err)
	}
	return d
}

// Exec runs one statement on the database, failing the test on error.
func (d *DB) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("mysql", d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("mysqltest: %s: %v", query, err)
	}
}

// QueryInt runs a query returning one integer (a count).
func (d *DB) QueryInt(t testing.TB, query string, args ...any) int64 {
	t.Helper()
	db, err := sql.Open("mysql", d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n sql.NullInt64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("mysqltest: %s: %v", query, err)
	}
	return n.Int64
}

// Selects is the server's Com_select counter (SELECT statements run on
// the whole server since start), from MariaDB's own statistics. Measure a
// difference; other databases on a shared server count too.
func (d *DB) Selects(t testing.TB) int64 {
	t.Helper()
	db, err := sql.Open("mysql", d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	var n int64
	if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_select'").Scan(&name, &n); err != nil {
		t.Fatalf("mysqltest: Com_select: %v", err)
	}
	return n
}
