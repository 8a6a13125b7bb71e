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
	if app := c.app(); !protocol.VerifyUserAuth(app.Key, app.Secret, s.Auth, c.id, s.UserData) {
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
		c.userID = u.ID
		c.userLocked().info = u.UserInfo
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
	if c.app().EnableWatchlistEvents && len(u.Watchlist) > 0 && prev == "" {
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

// userState is a user's signed-in connections on this node and how many
// other nodes have the user signed in.
type userState struct {
	conns  []*Conn
	remote int
}

func (us *userState) online() bool { return len(us.conns) > 0 || us.remote > 0 }

// userOnline registers c as one of userID's connections. The user's first
// connection on this node is announced to the cluster; the first anywhere
// turns the user online for watchers.
func (e *Engine) userOnline(c *Conn, userID string) {
	var first, local bool
	e.users.Update(userKey{c.rt, userID}, func(us *userState, ok bool) (*userState, bool) {
		if !ok {
			us = &userState{}
		}
		first, local = !us.online(), len(us.conns) == 0
		us.conns = append(us.conns, c)
		return us, true
	})
	if local {
		e.cluster.announceUser(userKey{c.rt, userID})
	}
	if first && c.app().EnableWatchlistEvents {
		e.notifyWatchers(c.rt, userID, "online")
	}
}

// userOffline drops c from userID's connections; see userOnline.
func (e *Engine) userOffline(c *Conn, userID string) {
	var last, local bool
	e.users.Update(userKey{c.rt, userID}, func(us *userState, ok bool) (*userState, bool) {
		if !ok {
			return nil, false
		}
		n := len(us.conns)
		us.conns = removeConn(us.conns, c)
		local = n > 0 && len(us.conns) == 0
		last = local && !us.online()
		return us, us.online()
	})
	if local {
		e.cluster.announceUser(userKey{c.rt, userID})
	}
	if last && c.app().EnableWatchlistEvents {
		e.notifyWatchers(c.rt, userID, "offline")
	}
}

// isOnline reports whether a user is signed in anywhere in the cluster.
func (e *Engine) isOnline(uk userKey) bool {
	online := false
	e.users.View(uk, func(us *userState) { online = us.online() })
	return online
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

// sendToUser delivers an encoded event to this node's connections signed
// in as id.
func (e *Engine) sendToUser(rt *appRuntime, id string, msg []byte) {
	e.users.View(userKey{rt, id}, func(us *userState) {
		for _, c := range us.conns {
			c.send(msg)
		}
	})
}

// TerminateUser closes every connection signed in as userID, on every
// node, with pusher:error 4009 and close 4009. It reports how many this
// node closed.
func (e *Engine) TerminateUser(_ context.Context, app *App, userID string) (int, error) {
	rt := e.runtimeFor(app)
	e.cluster.publish(&busMsg{T: msgTerminate, App: rt.id, User: userID})
	return e.terminateLocal(rt, userID), nil
}
