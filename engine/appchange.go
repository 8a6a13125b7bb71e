package engine

import "github.com/sockudo/sockudo-go/protocol"

// An app's settings live in one place per node, its appRuntime's app
// pointer, which every connection of the app reads through c.rt. Applying a
// change is one atomic store: no connection is visited unless it must be
// closed, and the hot path pays one pointer load it already paid for c.app.
//
// Ordering: a Connect that looked its app up before a change must not
// publish that stale app after the change. AppChanged and AppRemoved bump
// e.appGen under e.appMu; Connect notes the generation before its lookup and
// only installs its app when nothing changed since (see adoptApp).

// AppChanged applies an added or changed app: open connections of that app
// id see the new secret and limits at once (new signatures use the new
// secret); if the app is now disabled they are closed with 4003.
func (e *Engine) AppChanged(app *App) {
	rt := e.runtimeByID(app.ID)
	var code protocol.Code
	if !app.Enabled {
		code = protocol.CodeAppDisabled
	}
	e.appMu.Lock()
	e.appGen.Add(1)
	rt.app.Store(app)
	rt.closeCode.Store(int32(code))
	e.appMu.Unlock()
	if code != 0 {
		e.closeApp(rt, code)
	}
}

// AppRemoved closes every connection of the app id with 4001.
func (e *Engine) AppRemoved(id string) {
	rt := e.runtimeByID(id)
	e.appMu.Lock()
	e.appGen.Add(1)
	rt.closeCode.Store(int32(protocol.CodeAppNotFound))
	e.appMu.Unlock()
	e.closeApp(rt, protocol.CodeAppNotFound)
}

// closeApp has every worker close its connections of rt with code. A
// connection being added concurrently is closed by its worker on adoption
// (rt.closeCode), so none slips through.
func (e *Engine) closeApp(rt *appRuntime, code protocol.Code) {
	for _, w := range e.workers {
		w.push(job{kind: jobCloseApp, key: chanKey{app: rt}, code: code})
	}
}

// adoptApp makes app, which the store returned for a connect that began at
// generation gen, the one rt's connections read, unless a change applied
// since knows better. Fast path: nothing to do.
func (e *Engine) adoptApp(rt *appRuntime, app *App, gen uint64) {
	if rt.app.Load() == app && rt.closeCode.Load() == 0 {
		return
	}
	e.appMu.Lock()
	defer e.appMu.Unlock()
	switch {
	case e.appGen.Load() == gen:
		// The store's answer is the newest: the app exists and is enabled.
		rt.app.Store(app)
		rt.closeCode.Store(0)
	case rt.app.Load() == nil:
		rt.app.Store(app)
	}
}

// app is the connection's app as last changed; never nil once admitted.
func (c *Conn) app() *App { return c.rt.app.Load() }
