package appstore

import (
	"errors"
	"testing"

	"github.com/sockudo/sockudo-go/engine"
)

func TestStatic(t *testing.T) {
	a := &engine.App{ID: "1", Key: "k", Secret: "s"}
	s, err := NewStatic([]*engine.App{a})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.AppByKey("k"); err != nil || got != a {
		t.Fatal("AppByKey")
	}
	if got, err := s.AppByID("1"); err != nil || got != a {
		t.Fatal("AppByID")
	}
	if _, err := s.AppByKey("1"); !errors.Is(err, engine.ErrAppNotFound) {
		t.Fatalf("id found as key: %v", err)
	}
	bad := [][]*engine.App{
		{{ID: "1", Key: "k", Secret: "s"}, {ID: "2", Key: "k", Secret: "s"}},
		{{ID: "1", Key: "k", Secret: "s"}, {ID: "1", Key: "k2", Secret: "s"}},
		{{ID: "1", Key: "k"}},
	}
	for i, apps := range bad {
		if _, err := NewStatic(apps); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

// Replace reports added and changed apps and removed ids, keeps the
// previous *App of an unchanged one, and refuses an invalid list whole.
func TestStaticReplace(t *testing.T) {
	a := &engine.App{ID: "a", Key: "ka", Secret: "s"}
	b := &engine.App{ID: "b", Key: "kb", Secret: "s"}
	s, err := NewStatic([]*engine.App{a, b})
	if err != nil {
		t.Fatal(err)
	}
	a2 := &engine.App{ID: "a", Key: "ka", Secret: "rotated"}
	bSame := &engine.App{ID: "b", Key: "kb", Secret: "s"}
	c := &engine.App{ID: "c", Key: "kc", Secret: "s"}
	changed, removed, err := s.Replace([]*engine.App{a2, bSame, c})
	if err != nil || len(changed) != 2 || changed[0] != a2 || changed[1] != c || len(removed) != 0 {
		t.Fatalf("changed %v removed %v err %v", changed, removed, err)
	}
	if got, _ := s.AppByID("b"); got != b {
		t.Fatal("unchanged app got a new *App")
	}
	if got, _ := s.AppByKey("ka"); got.Secret != "rotated" {
		t.Fatal("changed secret not served")
	}
	changed, removed, err = s.Replace([]*engine.App{a2})
	if err != nil || len(changed) != 0 || len(removed) != 2 {
		t.Fatalf("changed %v removed %v err %v", changed, removed, err)
	}
	if _, err := s.AppByKey("kb"); !errors.Is(err, engine.ErrAppNotFound) {
		t.Fatalf("removed app still served: %v", err)
	}
	if _, _, err := s.Replace([]*engine.App{a2, {ID: "d", Key: "ka", Secret: "s"}}); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if s.Len() != 1 {
		t.Fatalf("refused list applied: %d apps", s.Len())
	}
}

// Lookups during Replace see one generation or the other, never a mix or
// a torn map (run with -race).
func TestStaticReplaceConcurrentLookups(t *testing.T) {
	s, _ := NewStatic([]*engine.App{{ID: "a", Key: "ka", Secret: "1"}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			_, _, _ = s.Replace([]*engine.App{{ID: "a", Key: "ka", Secret: string(rune('a' + i%26))}})
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
			if a, err := s.AppByKey("ka"); err != nil || a.ID != "a" {
				t.Fatalf("lookup during replace: %v %v", a, err)
			}
		}
	}
}
