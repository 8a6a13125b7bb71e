package testproc

import (
	"errors"
	"os"
	"testing"
)

// TestNewHome: a fresh directory that exists, and a usable port.
func TestNewHome(t *testing.T) {
	h, err := NewHome("testproc-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(h.Dir)
	if st, err := os.Stat(h.Dir); err != nil || !st.IsDir() {
		t.Fatalf("dir %s: %v", h.Dir, err)
	}
	if h.Port < 20000 || h.Port > 31999 {
		t.Fatalf("port %d", h.Port)
	}
}

// TestSharedStartsOnceAndCloses: start runs on the first Get only, and
// Close removes what it started; a Shared never started removes nothing.
func TestSharedStartsOnceAndCloses(t *testing.T) {
	var sh Shared[*int]
	starts := 0
	start := func() (*int, error) { starts++; n := 7; return &n, nil }
	a, b := sh.Get(t, start), sh.Get(t, start)
	if starts != 1 || a != b || *a != 7 {
		t.Fatalf("starts %d, servers %p %p", starts, a, b)
	}
	var removed []*int
	sh.Close(func(s *int) { removed = append(removed, s) })
	if len(removed) != 1 || removed[0] != a {
		t.Fatalf("removed %v", removed)
	}
	var never Shared[*int]
	never.Close(func(*int) { t.Error("removed a server never started") })
}

// TestSharedFailedStart: a start that failed is not retried and removes
// nothing.
func TestSharedFailedStart(t *testing.T) {
	var sh Shared[*int]
	sh.once.Do(func() { sh.err = errors.New("no server") })
	sh.Close(func(*int) { t.Error("removed a server that failed to start") })
	if sh.err == nil {
		t.Fatal("error lost")
	}
}

// TestRemoveAtCleanup: the remove runs when the test ends.
func TestRemoveAtCleanup(t *testing.T) {
	removed := false
	t.Run("owner", func(t *testing.T) {
		RemoveAtCleanup(t, "server", "/nonexistent/log", func() { removed = true })
	})
	if !removed {
		t.Fatal("not removed at cleanup")
	}
}
