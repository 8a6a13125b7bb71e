package webhook

import (
	"reflect"
	"sync"

	"github.com/sockudo/sockudo-go/engine"
)

// appTargets are an app's webhooks compiled, remembered with the *App they
// came from so that the common case (the same *App again) costs one
// sync.Map load and a pointer compare.
type appTargets struct {
	app *engine.App
	ts  []*target
}

// compiledApps caches appTargets by app id. A new *App with the same
// webhooks keeps the compiled targets (and their batches); changed
// webhooks are compiled anew and the old targets' batches flushed.
type compiledApps struct {
	mu sync.Mutex // serialises recompiles
	m  sync.Map   // app id → *appTargets
}

// targets returns the compiled targets of app: its own webhooks, else the
// Options.Targets of its id. An app without any costs a length check.
func (s *Sender) targets(app *engine.App) []*target {
	if len(app.Webhooks) == 0 {
		if len(s.apps) == 0 {
			return nil
		}
		return s.apps[app.ID]
	}
	if v, ok := s.compiled.m.Load(app.ID); ok && v.(*appTargets).app == app {
		return v.(*appTargets).ts
	}
	return s.recompile(app)
}

// recompile compiles app's webhooks unless the cached ones are the same.
// A target that does not compile is skipped and logged: stores validate
// webhooks before they reach the engine, so this is a last resort.
func (s *Sender) recompile(app *engine.App) []*target {
	s.compiled.mu.Lock()
	defer s.compiled.mu.Unlock()
	var old *appTargets
	if v, ok := s.compiled.m.Load(app.ID); ok {
		old = v.(*appTargets)
		if old.app == app {
			return old.ts
		}
		if reflect.DeepEqual(old.app.Webhooks, app.Webhooks) {
			s.compiled.m.Store(app.ID, &appTargets{app: app, ts: old.ts})
			return old.ts
		}
	}
	at := &appTargets{app: app}
	for i, w := range app.Webhooks {
		t, err := compileTarget(app.ID, i, w, &s.opts)
		if err != nil {
			s.log.Error("webhook target skipped", "app", app.ID, "err", err)
			continue
		}
		at.ts = append(at.ts, t)
	}
	s.compiled.m.Store(app.ID, at)
	if old != nil {
		for _, t := range old.ts {
			s.closeBatch(t)
		}
	}
	return at.ts
}

// eachCompiled calls f for every target compiled from apps' webhooks.
func (s *Sender) eachCompiled(f func(*target)) {
	s.compiled.m.Range(func(_, v any) bool {
		for _, t := range v.(*appTargets).ts {
			f(t)
		}
		return true
	})
}
