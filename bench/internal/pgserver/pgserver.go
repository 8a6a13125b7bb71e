// Package pgserver starts a private PostgreSQL for the history scenarios:
// initdb in a temporary directory, postgres on a free 127.0.0.1 port with
// trust authentication, stopped (and its directory removed) by Stop.
// It follows engine/appstore/pgtest, which the bench cannot import (its
// API takes a testing.TB): same binaries (/usr/lib/postgresql/*/bin),
// same settings (fsync and full-page writes off, synchronous_commit on),
// and as root the server runs as the unprivileged user nobody, because
// initdb and postgres refuse to run as root.
package pgserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/sockudo/sockudo-go/bench/internal/children"
	"github.com/sockudo/sockudo-go/bench/internal/ports"
)

// Server is one running postgres.
type Server struct {
	// Port is its TCP port on 127.0.0.1; user postgres, database postgres.
	Port int
	// Dir holds the data directory and postgres.log.
	Dir string

	bin  string
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan struct{}
}

// Bin returns the newest directory holding postgres and initdb, or an
// error naming the package to install.
func Bin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return ver(dirs[i]) > ver(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("postgres/initdb not found under /usr/lib/postgresql/*/bin: install the Debian package postgresql")
}

func ver(dir string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir))); return n }

func isExec(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode()&0o111 != 0 }

// Start initialises and starts a server and waits until it accepts
// connections (pg_isready). settings are extra "name=value" server
// settings (postgres -c), after the defaults.
func Start(settings ...string) (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, Dir: dir, done: make(chan struct{})}
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
	// Below the ephemeral range, like every other server the bench starts:
	// a listen(0) port can be taken by a loader's outgoing connection
	// before PostgreSQL binds it.
	if s.Port, err = ports.Free(nil); err != nil {
		s.remove()
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if out, err := s.command("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		s.remove()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.remove()
		return nil, err
	}
	defer logf.Close()
	s.cmd = s.command("postgres", "-D", data, "-p", strconv.Itoa(s.Port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB",
		"-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all")
	for _, kv := range settings {
		s.cmd.Args = append(s.cmd.Args, "-c", kv)
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := children.Start(s.cmd); err != nil {
		s.remove()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres").CombinedOutput()
		if err == nil {
			if out, err := s.SQL("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
				s.Stop()
				return nil, fmt.Errorf("pg_stat_statements: %v: %s", err, out)
			}
			return s, nil
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			s.remove()
			return nil, fmt.Errorf("postgres exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("postgres not ready on port %d: %s", s.Port, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SQL runs statements with psql on database postgres and returns psql's
// aligned output.
func (s *Server) SQL(sql string) (string, error) {
	out, err := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres",
		"-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql).CombinedOutput()
	return string(out), err
}

// ResetStatements clears pg_stat_statements.
func (s *Server) ResetStatements() error {
	_, err := s.SQL("SELECT pg_stat_statements_reset()")
	return err
}

// TopStatements is pg_stat_statements' ten statements with the most
// execution time since the last reset: where the database's time went.
func (s *Server) TopStatements() (string, error) {
	return s.SQL(`SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
round((total_exec_time / calls)::numeric * 1000, 1) AS mean_us, rows,
left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS query
FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 10`)
}

// PID is the postmaster's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// CPU is the user+system CPU of the postmaster and every process it
// started (backends, writer, checkpointer) in µs, alive or reaped: the
// postmaster's cutime/cstime hold the children that already exited.
func (s *Server) CPU() int64 {
	pid := s.PID()
	total := statCPU(pid, true)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		if ppid(p) == pid {
			total += statCPU(p, false)
		}
	}
	return total
}

// statFields returns the fields after the command name of /proc/pid/stat
// (field 3 onwards).
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == ')' {
			return splitFields(string(b[i+1:]))
		}
	}
	return nil
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\n' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

func ppid(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// statCPU is utime+stime (and with reaped, cutime+cstime) in µs.
func statCPU(pid int, reaped bool) int64 {
	f := statFields(pid)
	if len(f) < 15 {
		return 0
	}
	var t int64
	idx := []int{11, 12}
	if reaped {
		idx = append(idx, 13, 14)
	}
	for _, k := range idx {
		v, _ := strconv.ParseInt(f[k], 10, 64)
		t += v
	}
	return t * 1_000_000 / 100 // USER_HZ
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Stop shuts the server down at once (SIGQUIT, SIGKILL after 10 s) and
// removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		children.Done(s.cmd)
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.remove()
}

func (s *Server) remove() { _ = os.RemoveAll(s.Dir) }
