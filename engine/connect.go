package engine

import (
	"errors"
	"strconv"
	"time"

	"github.com/sockudo/sockudo-go/protocol"
)

// Connect admits an upgraded connection: it checks the app, the protocol
// version, the origin and the quotas, then sends connection_established.
// On refusal it writes pusher:error and a close frame with the same code,
// closes t and returns the *protocol.Error. The returned Conn's Feed must
// be called with everything read from the socket, and Gone when reading
// ends.
func (e *Engine) Connect(req ConnectRequest, t Transport) (*Conn, error) {
	app, rt, perr := e.admit(req)
	if perr != nil {
		e.refuse(t, perr, req)
		return nil, perr
	}
	c := &Conn{e: e, rt: rt, t: t, wslot: -1, v2: req.isV2()}
	if c.v2 {
		c.echo = e.opts.V2.echoFor(req.EchoMessages)
		c.wf = req.Format
	}
	e.stats.formatConns[c.wf].Add(1)
	c.fr.MaxMessage = e.opts.MaxPayload
	c.w = e.workers[e.next.Add(1)%uint64(len(e.workers))]
	c.id = string(protocol.AppendSocketID(nil, e.opts.NodeID, e.seq.Add(1)))
	now := time.Now().UnixNano()
	c.lastActive.Store(now)
	if app.EnableUserAuthentication {
		c.authDead = now + int64(e.opts.UserAuthTimeout)
	}
	rt.stats.newConns.Add(1)
	f := e.frames.get()
	p := protocol.AppendConnectionEstablished(f.payload(), c.id, int(e.opts.ActivityTimeout/time.Second))
	if c.v2 {
		p = c.appendDirect(f.payload()[:0:0], p)
	}
	c.w.push(job{kind: jobAdd, conn: c, f: f.seal(p, 1)})
	return c, nil
}

// admit runs the checks of Connect in Pusher's order and takes the
// connection slots; a refusal takes none.
func (e *Engine) admit(req ConnectRequest) (*App, *appRuntime, *protocol.Error) {
	if e.draining.Load() {
		return nil, nil, protocol.NewError(protocol.CodeReconnect, "Server is shutting down")
	}
	gen := e.appGen.Load()
	app, err := e.opts.Apps.AppByKey(req.AppKey)
	if err != nil {
		return nil, nil, e.lookupRefusal(req.AppKey, err)
	}
	if !app.Enabled {
		return nil, nil, protocol.NewError(protocol.CodeAppDisabled, "")
	}
	if perr := checkProtocol(req.Protocol); perr != nil {
		return nil, nil, perr
	}
	if req.isV2() && !e.ServesFormat(req.Format) {
		return nil, nil, protocol.NewError(protocol.CodeUnsupportedProtocol, "Wire format "+req.Format.String()+" is not served")
	}
	if !originAllowed(app.AllowedOrigins, req.Origin) {
		return nil, nil, protocol.NewError(protocol.CodeUnauthorized, "Origin not allowed")
	}
	if n := e.conns.Add(1); e.opts.MaxConnections > 0 && n > int64(e.opts.MaxConnections) {
		e.conns.Add(-1)
		return nil, nil, protocol.NewError(protocol.CodeOverCapacity, "Server is over capacity")
	}
	rt := e.runtimeFor(app)
	n := rt.stats.connections.Add(1)
	if app.MaxConnections > 0 && n+e.cluster.remoteConns(rt) > int64(app.MaxConnections) {
		rt.stats.connections.Add(-1)
		e.conns.Add(-1)
		return nil, nil, protocol.NewError(protocol.CodeAppOverQuota, "")
	}
	e.cluster.markConns(rt)
	e.adoptApp(rt, app, gen)
	return app, rt, nil
}

// lookupRefusal maps a failed AppByKey to the refusal: 4001 for an unknown
// key, 4101 when the store could not answer, so pusher-js retries after a
// pause instead of giving up on an app that may well exist.
func (e *Engine) lookupRefusal(key string, err error) *protocol.Error {
	if errors.Is(err, ErrAppNotFound) {
		return protocol.NewError(protocol.CodeAppNotFound, "App key "+key+" does not exist")
	}
	if n, ok := e.storeErrLog.Due(time.Now()); ok {
		e.log.Warn("app store lookup failed: connections refused with 4101", "err", err, "refused_since_last_log", n)
	}
	return protocol.NewError(protocol.CodeStoreUnavailable, "")
}

// checkProtocol accepts protocol 7, the version every current client
// speaks, a missing parameter (legacy clients) and 2, which selects
// Sockudo's protocol V2; others get 4007 as before V2 existed.
func checkProtocol(v string) *protocol.Error {
	if v == "" || v == protocol.ProtocolV2 {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return protocol.NewError(protocol.CodeInvalidVersion, "Invalid protocol version "+strconv.Quote(v))
	}
	if n != 7 {
		return protocol.NewError(protocol.CodeUnsupportedProtocol, "Unsupported protocol version "+v+": use 7")
	}
	return nil
}

// refuse tells a refused client why, in both places pusher-js looks: the
// pusher:error frame and the close code.
func (e *Engine) refuse(t Transport, perr *protocol.Error, req ConnectRequest) {
	e.stats.refused[refusalIndex(perr.Code)].Add(1)
	msg := protocol.AppendError(nil, perr.Code, perr.Message, "")
	b := protocol.AppendFrame(nil, protocol.OpText, msg)
	if req.isV2() {
		msg = protocol.AppendV2Error(nil, perr.Code, perr.Message, protocol.NewMessageID())
		b = protocol.AppendFrame(b[:0], protocol.OpText, msg)
		b = e.refusalFrame(b, req.Format)
	}
	b = protocol.AppendCloseFrame(b, perr.Code, perr.Message)
	_ = t.Write(b)
	_ = t.Close()
}

// originAllowed applies an app's allowed_origins; empty allows all.
func originAllowed(allowed []string, origin string) bool {
	return len(allowed) == 0 || protocol.OriginMatches(allowed, origin)
}

// release undoes everything a closed connection held: its subscriptions
// (presence members, occupancy), its user and watchlist registrations and
// its connection slots. Called once, by the owning worker.
func (e *Engine) release(c *Conn, code protocol.Code, reason string) {
	c.mu.Lock()
	subs := c.subs
	c.subs = nil
	userID := c.userID
	var watchlist []string
	if c.user != nil {
		watchlist = c.user.watchlist
	}
	c.mu.Unlock()
	for i := range subs {
		e.leave(c, &subs[i])
	}
	if userID != "" {
		e.userOffline(c, userID)
	}
	for _, id := range watchlist {
		e.unwatch(c, id)
	}
	c.rt.stats.connections.Add(-1)
	c.rt.stats.disconnections.Add(1)
	e.stats.formatConns[c.wf].Add(-1)
	e.cluster.markConns(c.rt)
	e.conns.Add(-1)
	if code != 0 {
		e.log.Debug("connection closed", "app", c.app().ID, "socket_id", c.id, "code", int(code), "reason", reason)
	}
}
