package engine

import (
	"github.com/sockudo/sockudo-go/protocol"
)

// watch registers c as a watcher of ids (the first 100; more earns
// pusher:error 4302) and sends the current online/offline state.
func (e *Engine) watch(c *Conn, ids []string) {
	if len(ids) > maxWatchlist {
		ids = ids[:maxWatchlist]
		c.sendError(protocol.CodeWatchlistLimit, "", "")
	}
	c.mu.Lock()
	c.userLocked().watchlist = ids
	c.mu.Unlock()
	var online, offline []string
	for _, id := range ids {
		e.watchers.Update(userKey{c.rt, id}, func(cs []*Conn, _ bool) ([]*Conn, bool) {
			return append(cs, c), true
		})
		if e.isOnline(userKey{c.rt, id}) {
			online = append(online, id)
		} else {
			offline = append(offline, id)
		}
	}
	c.send(watchlistEvents(online, offline))
}

// unwatch drops c from id's watchers.
func (e *Engine) unwatch(c *Conn, id string) {
	e.watchers.Update(userKey{c.rt, id}, func(cs []*Conn, _ bool) ([]*Conn, bool) {
		cs = removeConn(cs, c)
		return cs, len(cs) > 0
	})
}

// notifyWatchers tells everyone watching id that it went online/offline.
func (e *Engine) notifyWatchers(rt *appRuntime, id, name string) {
	var msg []byte
	if name == "online" {
		msg = watchlistEvents([]string{id}, nil)
	} else {
		msg = watchlistEvents(nil, []string{id})
	}
	e.watchers.View(userKey{rt, id}, func(cs []*Conn) {
		for _, c := range cs {
			c.send(msg)
		}
	})
}

// watchlistEvents encodes pusher_internal:watchlist_events in the shape
// pusher-js reads: {"events":[{"name":"online","user_ids":[..]},…]}.
func watchlistEvents(online, offline []string) []byte {
	b := []byte(`{"events":[`)
	add := func(name string, ids []string) {
		if len(ids) == 0 {
			return
		}
		if b[len(b)-1] != '[' {
			b = append(b, ',')
		}
		b = append(b, `{"name":"`+name+`","user_ids":[`...)
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = protocol.AppendJSONString(b, id)
		}
		b = append(b, "]}"...)
	}
	add("online", online)
	add("offline", offline)
	b = append(b, "]}"...)
	return protocol.AppendEventObject(nil, protocol.EventWatchlist, "", b)
}
