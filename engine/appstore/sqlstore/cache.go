package sqlstore

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sockudo/sockudo-go/engine"
)

// entry is one cached app and the row JSON it was parsed from ("" for an
// app from the config file, served while the database was unreachable).
type entry struct {
	app *engine.App
	src string
}

// snapshot is an immutable index of cached apps.
type snapshot struct {
	byKey map[string]*entry
	byID  map[string]*entry
	// apps is byKey without the indirection, for the connect path.
	apps map[string]*engine.App
}

// appCache holds the apps looked up so far. Reads of settled entries are a
// pointer load and a map lookup, as cheap as the static store's: the
// indexes are immutable snapshots replaced whole. A fill goes to a small
// locked overlay first and is merged into a new snapshot every
// overlayMax fills, so filling n apps costs O(n²/overlayMax), not O(n²).
type appCache struct {
	snap    atomic.Pointer[snapshot]
	pending atomic.Int32 // entries in the overlay; 0 = skip the lock

	mu       sync.Mutex
	overKey  map[string]*entry
	overID   map[string]*entry
	overSize int
}

const overlayMax = 64

func newAppCache() *appCache {
	c := &appCache{overKey: map[string]*entry{}, overID: map[string]*entry{}}
	c.snap.Store(&snapshot{byKey: map[string]*entry{}, byID: map[string]*entry{}, apps: map[string]*engine.App{}})
	return c
}

func (c *appCache) byKey(key string) *entry {
	if e := c.snap.Load().byKey[key]; e != nil {
		return e
	}
	if c.pending.Load() == 0 {
		return nil
	}
	c.mu.Lock()
	e := c.overKey[key]
	c.mu.Unlock()
	return e
}

func (c *appCache) byID(id string) *entry {
	if e := c.snap.Load().byID[id]; e != nil {
		return e
	}
	if c.pending.Load() == 0 {
		return nil
	}
	c.mu.Lock()
	e := c.overID[id]
	c.mu.Unlock()
	return e
}

// put caches e, replacing any entry of the same id (whose key may differ).
func (c *appCache) put(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap.Load()
	old := s.byID[e.app.ID]
	if old == nil {
		old = c.overID[e.app.ID]
	}
	if old != nil || c.overSize >= overlayMax {
		c.rebuild(func(keys, ids map[string]*entry) {
			if old != nil {
				delete(keys, old.app.Key)
			}
			keys[e.app.Key], ids[e.app.ID] = e, e
		})
		return
	}
	c.overKey[e.app.Key], c.overID[e.app.ID] = e, e
	c.overSize++
	c.pending.Store(int32(c.overSize))
}

// settle merges the overlay into the snapshot, so every cached app is
// served from the lock-free path (each refresh calls it).
func (c *appCache) settle() {
	if c.pending.Load() == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebuild(func(keys, ids map[string]*entry) {})
}

// remove drops the entry of id.
func (c *appCache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebuild(func(keys, ids map[string]*entry) {
		if e := ids[id]; e != nil {
			delete(keys, e.app.Key)
			delete(ids, id)
		}
	})
}

// rebuild merges the overlay into a new snapshot, applying edit; c.mu
// must be held.
func (c *appCache) rebuild(edit func(keys, ids map[string]*entry)) {
	s := c.snap.Load()
	keys := make(map[string]*entry, len(s.byKey)+c.overSize+1)
	ids := make(map[string]*entry, len(s.byID)+c.overSize+1)
	for k, e := range s.byKey {
		keys[k] = e
	}
	for k, e := range s.byID {
		ids[k] = e
	}
	for k, e := range c.overKey {
		keys[k] = e
	}
	for k, e := range c.overID {
		ids[k] = e
	}
	edit(keys, ids)
	apps := make(map[string]*engine.App, len(keys))
	for k, e := range keys {
		apps[k] = e.app
	}
	c.snap.Store(&snapshot{byKey: keys, byID: ids, apps: apps})
	clear(c.overKey)
	clear(c.overID)
	c.overSize = 0
	c.pending.Store(0)
}

// entries returns every cached entry.
func (c *appCache) entries() []*entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap.Load()
	out := make([]*entry, 0, len(s.byID)+c.overSize)
	for _, e := range s.byID {
		out = append(out, e)
	}
	for _, e := range c.overID {
		out = append(out, e)
	}
	return out
}

// len is the number of cached apps.
func (c *appCache) len() int {
	return len(c.snap.Load().byID) + int(c.pending.Load())
}

// negCache remembers keys and ids the database did not know, for a short
// time and up to a bounded count, so a flood of bogus keys costs one query
// per key per TTL instead of one per connect.
type negCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[string]time.Time // expiry
}

func newNegCache(ttl time.Duration, max int) *negCache {
	return &negCache{ttl: ttl, max: max, m: map[string]time.Time{}}
}

func (n *negCache) has(k string) bool {
	if n.ttl <= 0 {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	exp, ok := n.m[k]
	if ok && time.Now().After(exp) {
		delete(n.m, k)
		return false
	}
	return ok
}

func (n *negCache) add(k string) {
	if n.ttl <= 0 || n.max <= 0 {
		return
	}
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.m) >= n.max {
		for key, exp := range n.m {
			if now.After(exp) {
				delete(n.m, key)
			}
		}
		// Still full of live entries: forget an arbitrary one (map order
		// is random). The bound matters more than which key is retried.
		for key := range n.m {
			if len(n.m) < n.max {
				break
			}
			delete(n.m, key)
		}
	}
	n.m[k] = now.Add(n.ttl)
}

func (n *negCache) del(k string) {
	n.mu.Lock()
	delete(n.m, k)
	n.mu.Unlock()
}

func (n *negCache) size() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.m)
}

// flight makes concurrent lookups of one key share one query.
type flight struct {
	mu    sync.Mutex
	calls map[string]*call
}

type call struct {
	done chan struct{}
	app  *engine.App
	err  error
}

func (f *flight) do(k string, fn func() (*engine.App, error)) (*engine.App, error) {
	f.mu.Lock()
	if c := f.calls[k]; c != nil {
		f.mu.Unlock()
		<-c.done
		return c.app, c.err
	}
	c := &call{done: make(chan struct{})}
	if f.calls == nil {
		f.calls = map[string]*call{}
	}
	f.calls[k] = c
	f.mu.Unlock()
	c.app, c.err = fn()
	f.mu.Lock()
	delete(f.calls, k)
	f.mu.Unlock()
	close(c.done)
	return c.app, c.err
}
