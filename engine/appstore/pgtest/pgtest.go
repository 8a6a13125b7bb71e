// Package pgtest runs a private PostgreSQL server for tests: the SQL app
// store is tested against the real database, never a mock. The server is
// initialised with initdb in a temporary directory, listens on a free
// 127.0.0.1 port (and a unix socket in that directory) with trust
// authentication, and is killed when the test binary ends.
//
// initdb and postgres refuse to run as root, and CI runs the tests as
// root: the server then runs as the unprivileged user nobody, owning its
// directory.
//
// Without the binaries (Debian package postgresql) a test skips with a
// message, or fails when CI=true (CI installs them).
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sockudo/sockudo-go/engine/internal/testproc"
)

// Server is one postgres process and its data directory.
type Server struct {
	// Port is the TCP port on 127.0.0.1.
	Port int

	bin     string // directory holding initdb and postgres
	dir     string // root of the temporary tree (data, socket, log)
	cred    *syscall.Credential
	private bool
	proc    testproc.Proc

	dbs atomic.Int64
}

// DB is one database created for one test on a Server.
type DB struct {
	*Server
	// Name is the database name.
	Name string
	// URL is a postgres:// URL for the database (user postgres, no
	// password, sslmode=disable).
	URL string
}

var shared testproc.Shared[*Server]

// Start returns a fresh, empty database on the test binary's shared
// server, starting that server on first use. Tests that stop the server
// must use StartPrivate instead.
func Start(t testing.TB) *DB {
	t.Helper()
	bin := binaries(t)
	return shared.Get(t, func() (*Server, error) { return newServer(bin, false) }).newDB(t)
}

// StartPrivate starts a server of the test's own, stopped and removed at
// the test's cleanup, and returns a fresh database on it. Outage tests
// use it: Stop and Restart affect nobody else.
func StartPrivate(t testing.TB) *DB {
	t.Helper()
	s, err := newServer(binaries(t), true)
	if err != nil {
		t.Fatal(err)
	}
	testproc.RemoveAtCleanup(t, "postgres", s.logPath(), s.remove)
	return s.newDB(t)
}

// Cleanup stops the shared server and removes its directory. Call it from
// TestMain after m.Run; without it the server is killed when the test
// binary exits (parent-death signal) but its directory stays in the
// temporary directory.
func Cleanup() {
	shared.Close((*Server).remove)
}

func binaries(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if testproc.IsExec(filepath.Join(d, "postgres")) && testproc.IsExec(filepath.Join(d, "initdb")) {
			return d
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil && testproc.IsExec(filepath.Join(filepath.Dir(p), "initdb")) {
		return filepath.Dir(p)
	}
	testproc.Missing(t, "postgres/initdb not found (/usr/lib/postgresql/*/bin): install the Debian package postgresql (apt-get install postgresql)")
	return ""
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func newServer(bin string, private bool) (*Server, error) {
	home, err := testproc.NewHome("pgtest-")
	if err != nil {
		return nil, err
	}
	dir, port := home.Dir, home.Port
	s := &Server{bin: bin, dir: dir, private: private, Port: port}
	s.proc = testproc.Proc{Name: fmt.Sprintf("postgres on port %d", port), Log: s.logPath(), Command: s.postgres,
		Ready: s.ping,
		// SIGQUIT is postgres's immediate shutdown: children exit at once
		// and the next start runs crash recovery, as after a real crash.
		StopSignal: syscall.SIGQUIT}
	if os.Geteuid() == 0 {
		s.cred = &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			s.remove()
			return nil, err
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		s.remove()
		return nil, err
	}
	init := s.command("initdb", "-D", s.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := init.CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	if err := s.Restart(); err != nil {
		s.remove()
		return nil, err
	}
	return s, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.dir, "postgres.log") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// Pdeathsig: a test binary that dies without cleanup takes its
	// server along instead of leaving it running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// postgres is the server's command line.
func (s *Server) postgres() *exec.Cmd {
	return s.command("postgres", "-D", s.dataDir(), "-p", strconv.Itoa(s.Port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
		// fsync off is safe here: a killed process loses nothing the kernel
		// holds; synchronous_commit stays on so Stop loses no commit.
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB",
		"-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all")
}

func (s *Server) ping() error {
	c, err := s.connect(context.Background(), "postgres")
	if err == nil {
		_ = c.Close(context.Background())
	}
	return err
}

// Restart starts the server again on the same port and data directory
// (after Stop, for outage tests) and waits until it accepts connections.
func (s *Server) Restart() error { return s.proc.Start() }

// Stop kills the server at once, as a crash or a network cut would look
// to clients: established connections break.
func (s *Server) Stop() { s.proc.Stop() }

func (s *Server) remove() {
	s.Stop()
	_ = os.RemoveAll(s.dir)
}

func (s *Server) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return pgx.Connect(ctx, s.url(db))
}

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

func (s *Server) newDB(t testing.TB) *DB {
	t.Helper()
	name := "test_" + strconv.FormatInt(s.dbs.Add(1), 10)
	c, err := s.connect(context.Background(), "postgres")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	d := &DB{Server: s, Name: name, URL: s.url(name)}
	d.Exec(t, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
	return d
}

// Exec runs one statement on the database, failing the test on error.
func (d *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	c, err := d.connect(context.Background(), d.Name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// QueryInt runs a query returning one integer (a count).
func (d *DB) QueryInt(t testing.TB, sql string, args ...any) int64 {
	t.Helper()
	c, err := d.connect(context.Background(), d.Name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(context.Background())
	var n *int64
	if err := c.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	if n == nil {
		return 0
	}
	return *n
}

// Statements is how many statements reading table this database has
// executed, from PostgreSQL's own statistics (pg_stat_statements).
func (d *DB) Statements(t testing.TB, table string) int64 {
	t.Helper()
	return d.QueryInt(t, `SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements s
		JOIN pg_database d ON d.oid = s.dbid
		WHERE d.datname = current_database() AND s.query ILIKE 'SELECT%' AND s.query LIKE '%' || $1 || '%'`, table)
}
