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
