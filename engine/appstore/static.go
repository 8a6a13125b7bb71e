// Package appstore holds engine.AppStore implementations. Static serves a
// list of apps, as Sockudo's `memory` app manager does with
// app_manager.array.apps, and can swap the list on a config reload.
package appstore

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/sockudo/sockudo-go/engine"
)

// Static is an AppStore over a list of apps, indexed by key and id. Lookups
// read an immutable index through one atomic pointer, so Replace never
// blocks them and they never see half a reload. Safe for concurrent use.
type Static struct {
	idx atomic.Pointer[index]
}

// index is one immutable generation of the apps.
type index struct {
	byKey map[string]*engine.App
	byID  map[string]*engine.App
}

// NewStatic indexes apps; ids and keys must be unique and non-empty.
func NewStatic(apps []*engine.App) (*Static, error) {
	idx, err := newIndex(apps)
	if err != nil {
		return nil, err
	}
	s := &Static{}
	s.idx.Store(idx)
	return s, nil
}

func newIndex(apps []*engine.App) (*index, error) {
	x := &index{byKey: make(map[string]*engine.App, len(apps)), byID: make(map[string]*engine.App, len(apps))}
	for i, a := range apps {
		switch {
		case a.ID == "" || a.Key == "" || a.Secret == "":
			return nil, fmt.Errorf("appstore: app %d: id, key and secret are required", i)
		case x.byKey[a.Key] != nil:
			return nil, fmt.Errorf("appstore: app %q: key %q is used twice", a.ID, a.Key)
		case x.byID[a.ID] != nil:
			return nil, fmt.Errorf("appstore: app id %q is used twice", a.ID)
		}
		x.byKey[a.Key] = a
		x.byID[a.ID] = a
	}
	return x, nil
}

// AppByKey returns the app with the public key k, or engine.ErrAppNotFound.
func (s *Static) AppByKey(k string) (*engine.App, error) {
	if a, ok := s.idx.Load().byKey[k]; ok {
		return a, nil
	}
	return nil, engine.ErrAppNotFound
}

// AppByID returns the app with id, or engine.ErrAppNotFound.
func (s *Static) AppByID(id string) (*engine.App, error) {
	if a, ok := s.idx.Load().byID[id]; ok {
		return a, nil
	}
	return nil, engine.ErrAppNotFound
}

// Len is the number of apps.
func (s *Static) Len() int { return len(s.idx.Load().byID) }

// Replace swaps the whole list at once (a config reload) and reports what
// the engine must apply: changed holds the apps that are new or differ from
// the previous generation, removed the ids that are gone. An unchanged app
// keeps its previous *App, so nothing downstream sees a change. An invalid
// list is refused and the previous one stays. Calls must not overlap.
func (s *Static) Replace(apps []*engine.App) (changed []*engine.App, removed []string, err error) {
	prev := s.idx.Load()
	apps = slices.Clone(apps)
	for i, a := range apps {
		if old, ok := prev.byID[a.ID]; ok && old.Equal(a) {
			apps[i] = old
		} else {
			changed = append(changed, a)
		}
	}
	next, err := newIndex(apps)
	if err != nil {
		return nil, nil, err
	}
	s.idx.Store(next)
	for id := range prev.byID {
		if _, ok := next.byID[id]; !ok {
			removed = append(removed, id)
		}
	}
	return changed, removed, nil
}
