package engine

import (
	"context"
	"strings"

	"github.com/sockudo/sockudo-go/protocol"
)

// maxWatchlist is how many watched ids a signin may carry (Pusher's limit).
const maxWatchlist = 100

// signin handles pusher:signin: the signature over
// "socket_id::user::user_data", then pusher:signin_success with the same
// user_data, registration as the user, and the watchlist. Any failure is
// pusher:error 4009 and close 4009 (pusher-js then stays disconnected).
func (c *Conn) signin(data []byte) {
	var s protocol.Signin
	if err := protocol.DecodeSignin(data, &s); err != nil {
		c.refuseSignin("Invalid pusher:signin: data must be an object with auth and user_data")
		return
	}
	if !protocol.VerifyUserAuth(c.app.Key, c.app.Secret, s.Auth, c.id, s.UserData) {
		c.refuseSignin("Invalid signature: expected HMAC SHA256 hex digest of " + c.id + "::user::<user_data>")
		return
	}
	var u protocol.UserData
	if err := protocol.DecodeUserData(s.UserData, &u); err != nil {
		c.refuseSignin("Invalid user_data: it must be a JSON object with a non-empty id")
		return
	}
	userData := strings.Clone(s.UserData)
	c.mu.Lock()
	prev := c.userID
	if prev == "" {
		c.userID, c.userInfo = u.ID, u.UserInfo
	}
	c.mu.Unlock()
	if prev != "" && prev != u.ID {
		c.refuseSignin("This connection is already signed in as another user")
		return
	}
	c.authed.Store(true)
	c.send(protocol.AppendEventObject(nil, protocol.EventSigninSuccess, "", signinSuccess(userData)))
	if prev == "" {
		c.e.userOnline(c, u.ID)
	}
	if c.app.EnableWatchlistEvents && len(u.Watchlist) > 0 && prev == "" {
		c.e.watch(c, u.Watchlist)
	}
}

func (c *Conn) refuseSignin(msg string) {
	c.e.stats.authFailures[authSignin].Add(1)
	c.closeWith(protocol.CodeUnauthorized, msg)
}

func signinSuccess(userData string) []byte {
	b := []byte(`{"user_data":`)
	b = protocol.AppendJSONString(b, userData)
	return append(b, '}')
}

// userOnline registers c as one of userID's connections; the first one
// turns the user online for watchers.
func (e *Engine) userOnline(c *Conn, userID string) {
	first := false
	e.users.Update(userKey{c.rt, userID}, func(cs []*Conn, ok bool) ([]*Conn, bool) {
		first = len(cs) == 0
		return append(cs, c), true
	})
	if first && c.app.EnableWatchlistEvents {
		e.notifyWatchers(c.rt, userID, "online")
	}
}

// userOffline drops c from userID's connections; the last one turns the
// user offline for watchers.
func (e *Engine) userOffline(c *Conn, userID string) {
	last := false
	e.users.Update(userKey{c.rt, userID}, func(cs []*Conn, ok bool) ([]*Conn, bool) {
		cs = removeConn(cs, c)
		last = ok && len(cs) == 0
		return cs, len(cs) > 0
	})
	if last && c.app.EnableWatchlistEvents {
		e.notifyWatchers(c.rt, userID, "offline")
	}
}

func removeConn(cs []*Conn, c *Conn) []*Conn {
	for i, x := range cs {
		if x == c {
			cs[i] = cs[len(cs)-1]
			cs[len(cs)-1] = nil
			return cs[:len(cs)-1]
		}
	}
	return cs
}

// sendToUser delivers an encoded event to every connection signed in as id.
func (e *Engine) sendToUser(rt *appRuntime, id string, msg []byte) {
	e.users.View(userKey{rt, id}, func(cs []*Conn) {
		for _, c := range cs {
			c.send(msg)
		}
	})
}

// TerminateUser closes every connection signed in as userID with
// pusher:error 4009 and close 4009, and reports how many it closed.
func (e *Engine) TerminateUser(_ context.Context, app *App, userID string) (int, error) {
	var conns []*Conn
	e.users.View(userKey{e.runtimeFor(app), userID}, func(cs []*Conn) {
		conns = append(conns, cs...)
	})
	for _, c := range conns {
		c.closeWith(protocol.CodeUnauthorized, "Connection terminated by the app")
	}
	return len(conns), nil
}
