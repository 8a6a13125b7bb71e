package appstore

import (
	"testing"

	"github.com/sockudo/sockudo-go/engine"
)

func TestStatic(t *testing.T) {
	a := &engine.App{ID: "1", Key: "k", Secret: "s"}
	s, err := NewStatic([]*engine.App{a})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.AppByKey("k"); !ok || got != a {
		t.Fatal("AppByKey")
	}
	if got, ok := s.AppByID("1"); !ok || got != a {
		t.Fatal("AppByID")
	}
	if _, ok := s.AppByKey("1"); ok {
		t.Fatal("id found as key")
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
