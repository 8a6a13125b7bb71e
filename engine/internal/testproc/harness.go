package testproc

import (
	"os"
	"sync"
	"testing"
)

// Home is where a database harness puts one server: a temporary directory
// for its data, socket and log, and a free port.
type Home struct {
	// Dir is the server's own directory, removed with the server.
	Dir string
	// Port is free on 127.0.0.1 below the ephemeral range (FreePort).
	Port int
}

// NewHome makes the directory (named after prefix, under os.TempDir; not
// t.TempDir, whose parents are mode 0700 and owned by root, which a
// server running as nobody cannot traverse) and picks the port; on error
// nothing is left behind.
func NewHome(prefix string) (Home, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return Home{}, err
	}
	port, err := FreePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return Home{}, err
	}
	return Home{Dir: dir, Port: port}, nil
}

// Shared is the one server a test binary's tests share, started on first
// use; tests that stop their server use one of their own instead.
type Shared[S comparable] struct {
	once sync.Once
	s    S
	err  error
}

// Get returns the shared server, starting it with start on the first
// call. A failed start fails this test and every later one.
func (sh *Shared[S]) Get(t testing.TB, start func() (S, error)) S {
	t.Helper()
	sh.once.Do(func() { sh.s, sh.err = start() })
	if sh.err != nil {
		t.Fatal(sh.err)
	}
	return sh.s
}

// Close calls remove on the shared server if one was started; TestMain
// calls it after m.Run, so no data directory outlives the test binary.
func (sh *Shared[S]) Close(remove func(S)) {
	var zero S
	if sh.s != zero {
		remove(sh.s)
	}
}

// RemoveAtCleanup removes a test's own server at its cleanup, first
// logging the end of the server's log (file log) when the test failed:
// the server's side of the failure is gone once its directory is.
func RemoveAtCleanup(t testing.TB, name, log string, remove func()) {
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("%s log:\n%s", name, Tail(b))
		}
		remove()
	})
}
