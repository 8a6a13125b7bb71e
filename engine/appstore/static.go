// Package appstore holds engine.AppStore implementations. Static serves a
// fixed list of apps, as Sockudo's `memory` app manager does with
// app_manager.array.apps.
package appstore

import (
	"fmt"

	"github.com/sockudo/sockudo-go/engine"
)

// Static is an immutable AppStore over a fixed list of apps, indexed by key
// and id. Safe for concurrent use.
type Static struct {
	byKey map[string]*engine.App
	byID  map[string]*engine.App
}

// NewStatic indexes apps; ids and keys must be unique and non-empty.
func NewStatic(apps []*engine.App) (*Static, error) {
	s := &Static{byKey: make(map[string]*engine.App, len(apps)), byID: make(map[string]*engine.App, len(apps))}
	for i, a := range apps {
		switch {
		case a.ID == "" || a.Key == "" || a.Secret == "":
			return nil, fmt.Errorf("appstore: app %d: id, key and secret are required", i)
		case s.byKey[a.Key] != nil:
			return nil, fmt.Errorf("appstore: app %q: key %q is used twice", a.ID, a.Key)
		case s.byID[a.ID] != nil:
			return nil, fmt.Errorf("appstore: app id %q is used twice", a.ID)
		}
		s.byKey[a.Key] = a
		s.byID[a.ID] = a
	}
	return s, nil
}

// AppByKey returns the app with the public key k.
func (s *Static) AppByKey(k string) (*engine.App, bool) {
	a, ok := s.byKey[k]
	return a, ok
}

// AppByID returns the app with id.
func (s *Static) AppByID(id string) (*engine.App, bool) {
	a, ok := s.byID[id]
	return a, ok
}

// Len is the number of apps.
func (s *Static) Len() int { return len(s.byID) }
