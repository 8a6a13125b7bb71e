package v2client

// Tracker records which serials of one channel reached a client, across
// all its connections and before deduplication: a serial seen twice is a
// duplicate the server sent, one never seen by the end is a gap.
// Not safe for concurrent use (the client's reader owns it).
type Tracker struct {
	base     uint64   // the channel's serial when the client first subscribed
	bits     []uint64 // bit k = serial base+1+k arrived
	distinct int64
	dups     int64
	below    int64 // serials ≤ base: published before the subscription
	max      uint64
}

// NewTracker starts tracking after serial base (subscription_succeeded's).
func NewTracker(base uint64) *Tracker { return &Tracker{base: base, max: base} }

// Add records one message; it reports whether the serial had arrived before.
func (t *Tracker) Add(serial uint64) (dup bool) {
	if serial <= t.base {
		t.below++
		return false
	}
	k := serial - t.base - 1
	w := int(k / 64)
	for w >= len(t.bits) {
		t.bits = append(t.bits, 0)
	}
	m := uint64(1) << (k % 64)
	if t.bits[w]&m != 0 {
		t.dups++
		return true
	}
	t.bits[w] |= m
	t.distinct++
	t.max = max(t.max, serial)
	return false
}

// Base is the serial the tracking started after.
func (t *Tracker) Base() uint64 { return t.base }

// Max is the highest serial received (Base when none).
func (t *Tracker) Max() uint64 { return t.max }

// Distinct is the number of different serials received.
func (t *Tracker) Distinct() int64 { return t.distinct }

// Duplicates is the number of serials that arrived more than once.
func (t *Tracker) Duplicates() int64 { return t.dups }

// Below is the number of serials at or before Base.
func (t *Tracker) Below() int64 { return t.below }

// Contiguous reports that every serial from Base+1 to Max arrived.
func (t *Tracker) Contiguous() bool { return uint64(t.distinct) == t.max-t.base }

// Missing counts the serials in (Base, head] that never arrived.
func (t *Tracker) Missing(head uint64) int64 {
	if head <= t.base {
		return 0
	}
	var got int64
	for s := t.base + 1; s <= head; s++ {
		k := s - t.base - 1
		if w := int(k / 64); w < len(t.bits) && t.bits[w]&(1<<(k%64)) != 0 {
			got++
		}
	}
	return int64(head-t.base) - got
}
