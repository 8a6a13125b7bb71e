package filter

// Index holds the filtered subscribers of one channel so that a publish
// costs work in proportion to the subscribers that can match it.
//
// Each subscriber is filed once, under the most selective thing its
// filter requires:
//
//   - a tag value: a filter that can only pass when tag K is one of a
//     known set of values (an eq or in leaf, an and-node with such a
//     child, an or-node of such leaves on one key) goes into a hash map
//     K → value → subscribers;
//   - else an event name: a filter with an `events` list goes into a map
//     event → subscribers;
//   - else (a tree with neither, or only an expression) a group of the
//     subscribers with the same filter (equal by Predicate.Key), in a list
//     of groups;
//   - no filter at all: a list delivered without evaluation.
//
// Match looks up the buckets of the message's tag values and event name
// and evaluates the full predicate on those candidates only (so the
// result is exactly that of evaluating every subscriber), then evaluates
// each group's filter once for all its subscribers.
//
// An Index is not safe for concurrent use: each shard worker keeps its own
// for the connections it owns, so the hot path takes no lock. S is the
// worker's opaque subscriber handle.
type Index[S comparable] struct {
	regs    map[S]*reg[S]
	always  bucket[S]   // nil predicate: every message
	groups  []*group[S] // evaluated once per distinct filter
	byKey   map[string]*group[S]
	byTag   map[string]map[string]*bucket[S]
	byEvent map[string]*bucket[S]
	indexed int
}

// group is the subscribers sharing one unindexable filter.
type group[S comparable] struct {
	pred *Predicate
	subs bucket[S]
	pos  int // in Index.groups
}

type reg[S comparable] struct {
	sub  S
	pred *Predicate
	// exact: the bucket's key is the whole predicate (a lone eq/in leaf,
	// or only an events list), so being found is matching.
	exact   bool
	indexed bool
	slots   []slot[S]
}

// slot is where a registration sits: bucket b at position i.
type slot[S comparable] struct {
	b *bucket[S]
	i int
}

type bucket[S comparable] struct {
	regs []*reg[S]
	// drop removes the bucket from its map once empty.
	drop func()
}

// NewIndex returns an empty index.
func NewIndex[S comparable]() *Index[S] {
	return &Index[S]{
		regs:    make(map[S]*reg[S]),
		byKey:   make(map[string]*group[S]),
		byTag:   make(map[string]map[string]*bucket[S]),
		byEvent: make(map[string]*bucket[S]),
	}
}

// Len is the number of registered subscribers.
func (x *Index[S]) Len() int { return len(x.regs) }

// Indexed is how many subscribers sit in a tag or event bucket rather than
// in the list evaluated on every publish.
func (x *Index[S]) Indexed() int { return x.indexed }

// Add registers sub with its predicate (nil: no filter), replacing any
// earlier registration of sub.
func (x *Index[S]) Add(sub S, p *Predicate) {
	if x.regs == nil {
		*x = *NewIndex[S]()
	}
	x.Remove(sub)
	r := &reg[S]{sub: sub, pred: p}
	x.regs[sub] = r
	switch key, vals, ok := requiredTag(p); {
	case p == nil:
		x.put(r, &x.always)
	case ok:
		x.indexed++
		r.indexed = true
		r.exact = len(p.events) == 0 && p.expr == nil && (p.tags.op == opEq || p.tags.op == opIn)
		for _, v := range vals {
			x.put(r, x.tagBucket(key, v))
		}
	case len(p.events) > 0:
		x.indexed++
		r.indexed = true
		r.exact = p.tags == nil && p.expr == nil
		for _, e := range p.events {
			x.put(r, x.eventBucket(e))
		}
	default:
		x.put(r, &x.group(p).subs)
	}
}

// Remove forgets sub; unknown handles are ignored.
func (x *Index[S]) Remove(sub S) {
	r, ok := x.regs[sub]
	if !ok {
		return
	}
	delete(x.regs, sub)
	if r.indexed {
		x.indexed--
	}
	for _, s := range r.slots {
		s.b.remove(s.i)
	}
}

// Match calls fn once for every registered subscriber whose predicate
// accepts msg, in no particular order. fn must not Add to or Remove from
// the index. Subscribers filed by tag value or event name cost nothing
// unless the message carries that value; none of this allocates unless an
// expression is evaluated.
func (x *Index[S]) Match(msg *Message, fn func(S)) {
	for _, r := range x.always.regs {
		fn(r.sub)
	}
	if len(x.byTag) > 0 {
		if len(msg.Tags) <= len(x.byTag) {
			for k, v := range msg.Tags {
				if vals := x.byTag[k]; vals != nil {
					vals[v].deliver(msg, fn)
				}
			}
		} else {
			for k, vals := range x.byTag {
				if v, ok := msg.Tags[k]; ok {
					vals[v].deliver(msg, fn)
				}
			}
		}
	}
	if len(x.byEvent) > 0 && msg.Event != "" {
		x.byEvent[msg.Event].deliver(msg, fn)
	}
	for _, g := range x.groups {
		if g.pred.Match(msg) {
			for _, r := range g.subs.regs {
				fn(r.sub)
			}
		}
	}
}

func (b *bucket[S]) deliver(msg *Message, fn func(S)) {
	if b == nil {
		return
	}
	for _, r := range b.regs {
		if r.exact || r.pred.Match(msg) {
			fn(r.sub)
		}
	}
}

func (x *Index[S]) put(r *reg[S], b *bucket[S]) {
	r.slots = append(r.slots, slot[S]{b, len(b.regs)})
	b.regs = append(b.regs, r)
}

// remove swaps the last registration into position i and fixes its slot.
func (b *bucket[S]) remove(i int) {
	last := len(b.regs) - 1
	moved := b.regs[last]
	b.regs[i] = moved
	b.regs[last] = nil
	b.regs = b.regs[:last]
	if i != last {
		for j := range moved.slots {
			if moved.slots[j].b == b && moved.slots[j].i == last {
				moved.slots[j].i = i
				break
			}
		}
	}
	if len(b.regs) == 0 && b.drop != nil {
		b.drop()
	}
}

func (x *Index[S]) tagBucket(key, val string) *bucket[S] {
	vals := x.byTag[key]
	if vals == nil {
		vals = make(map[string]*bucket[S])
		x.byTag[key] = vals
	}
	b := vals[val]
	if b == nil {
		b = &bucket[S]{}
		b.drop = func() {
			delete(vals, val)
			if len(vals) == 0 {
				delete(x.byTag, key)
			}
		}
		vals[val] = b
	}
	return b
}

func (x *Index[S]) group(p *Predicate) *group[S] {
	key := p.Key()
	g := x.byKey[key]
	if g == nil {
		g = &group[S]{pred: p, pos: len(x.groups)}
		g.subs.drop = func() {
			delete(x.byKey, key)
			last := x.groups[len(x.groups)-1]
			x.groups[g.pos], last.pos = last, g.pos
			x.groups[len(x.groups)-1] = nil
			x.groups = x.groups[:len(x.groups)-1]
		}
		x.byKey[key] = g
		x.groups = append(x.groups, g)
	}
	return g
}

func (x *Index[S]) eventBucket(event string) *bucket[S] {
	b := x.byEvent[event]
	if b == nil {
		b = &bucket[S]{}
		b.drop = func() { delete(x.byEvent, event) }
		x.byEvent[event] = b
	}
	return b
}

// requiredTag finds a tag key and value set such that the predicate can
// only pass when the message's tag key holds one of the values.
func requiredTag(p *Predicate) (key string, vals []string, ok bool) {
	if p == nil || p.tags == nil {
		return "", nil, false
	}
	return p.tags.required()
}

func (n *node) required() (string, []string, bool) {
	switch n.op {
	case opEq:
		return n.key, []string{n.val}, true
	case opIn:
		return n.key, n.vals, true
	case opAnd:
		var bestKey string
		var best []string
		found := false
		for i := range n.kids {
			if k, v, ok := n.kids[i].required(); ok && (!found || len(v) < len(best)) {
				bestKey, best, found = k, v, true
			}
		}
		return bestKey, best, found
	case opOr:
		var key string
		var union []string
		for i := range n.kids {
			k, v, ok := n.kids[i].required()
			if !ok || (i > 0 && k != key) {
				return "", nil, false
			}
			key = k
			union = append(union, v...)
		}
		return key, sortedUnique(union), len(n.kids) > 0
	}
	return "", nil, false
}
