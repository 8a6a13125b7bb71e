package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// Defaults of Options, Sockudo's (sockudo-v2.md §11, §15).
const (
	DefaultTTL          = 120 * time.Second
	DefaultMaxKeyLength = 128
	// DefaultWait and DefaultPoll: how long a duplicate of a request in
	// flight waits for its answer (Sockudo polls 6 × 50 ms) before it is
	// refused with "retry later".
	DefaultWait = 300 * time.Millisecond
	DefaultPoll = 50 * time.Millisecond
	// DefaultPendingTTL bounds how long a claim outlives a request that
	// never finished (its node died mid-publish): duplicates are refused
	// as in flight until then, not for the whole key TTL. A publish takes
	// milliseconds; one slower than this loses its claim and a duplicate
	// may then run.
	DefaultPendingTTL = 30 * time.Second
)

// Outcome is what Begin decided about a request.
type Outcome int

// Outcomes of Begin.
const (
	// Proceed: the key is claimed; publish, then Commit or Abort.
	Proceed Outcome = iota
	// Replay: a duplicate; answer with the Claim's Entry, do not publish.
	Replay
	// InFlight: the first request with the key is still running.
	InFlight
	// Conflict: the key was first used with a different payload.
	Conflict
)

// Outcome labels reported to the Observer.
const (
	ObservedDuplicate   = "duplicate"
	ObservedInFlight    = "in_flight"
	ObservedConflict    = "conflict"
	ObservedUnavailable = "unavailable"
)

// Observer counts what the Guard refused or answered from the store
// (ObservedDuplicate, ObservedInFlight, ObservedConflict,
// ObservedUnavailable). Implementations must be safe for concurrent use.
type Observer interface {
	Idempotency(outcome string)
}

// Options configures a Guard.
type Options struct {
	// Store keeps the entries. Required.
	Store Store
	// TTL is idempotency.ttl_seconds, how long a key is remembered;
	// 0 → DefaultTTL. Begin may be given an app's own.
	TTL time.Duration
	// MaxKeyLength is idempotency.max_key_length; 0 → DefaultMaxKeyLength.
	MaxKeyLength int
	// Wait bounds how long a duplicate of a request in flight waits for
	// the first answer, polling every Poll; 0 → the defaults.
	Wait, Poll time.Duration
	// PendingTTL is the lifetime of a claim until its response is kept
	// (at most the key's TTL); 0 → DefaultPendingTTL.
	PendingTTL time.Duration
	// Observer, when not nil, counts outcomes.
	Observer Observer
}

// Guard applies idempotency to requests. Safe for concurrent use.
type Guard struct {
	o Options
}

// New returns a Guard over o.Store.
func New(o Options) *Guard {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxKeyLength <= 0 {
		o.MaxKeyLength = DefaultMaxKeyLength
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.PendingTTL <= 0 {
		o.PendingTTL = DefaultPendingTTL
	}
	return &Guard{o: o}
}

// MaxKeyLength is the longest key accepted, in bytes.
func (g *Guard) MaxKeyLength() int { return g.o.MaxKeyLength }

// Claim is one request's hold on a key.
type Claim struct {
	// Outcome says what to do with the request.
	Outcome Outcome
	// Entry is the first response when Outcome is Replay.
	Entry Entry

	key, token string
	ttl        time.Duration
}

// Begin claims key for a request whose payload has fingerprint. ttl is the
// app's key lifetime; 0 → Options.TTL. A request with the key in flight is
// waited for, up to Options.Wait. The error wraps ErrUnavailable.
func (g *Guard) Begin(ctx context.Context, key, fingerprint string, ttl time.Duration) (Claim, error) {
	if ttl <= 0 {
		ttl = g.o.TTL
	}
	pending := min(ttl, g.o.PendingTTL)
	deadline := time.Now().Add(g.o.Wait)
	for {
		token, present, claimed, err := g.o.Store.Claim(ctx, key, fingerprint, pending)
		switch {
		case err != nil:
			g.observe(ObservedUnavailable)
			return Claim{}, err
		case claimed:
			return Claim{Outcome: Proceed, key: key, token: token, ttl: ttl}, nil
		case present.Fingerprint != fingerprint:
			g.observe(ObservedConflict)
			return Claim{Outcome: Conflict}, nil
		case !present.Pending:
			g.observe(ObservedDuplicate)
			return Claim{Outcome: Replay, Entry: present}, nil
		case !time.Now().Before(deadline):
			g.observe(ObservedInFlight)
			return Claim{Outcome: InFlight}, nil
		}
		t := time.NewTimer(g.o.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			g.observe(ObservedInFlight)
			return Claim{Outcome: InFlight}, nil
		case <-t.C:
		}
	}
}

// Commit stores the response of a Proceed claim for later duplicates.
// The publish has happened: on error the caller still answers it, and a
// duplicate within the TTL may then be published again.
func (g *Guard) Commit(ctx context.Context, c *Claim, fingerprint string, status int, body []byte) error {
	if c.Outcome != Proceed || c.token == "" {
		return nil
	}
	err := g.o.Store.Commit(ctx, c.key, c.token, Entry{Fingerprint: fingerprint, Status: status, Body: body}, c.ttl)
	c.token = ""
	if err != nil {
		g.observe(ObservedUnavailable)
	}
	return err
}

// Abort gives up a Proceed claim whose request failed, so a retry with
// the same key runs instead of waiting for the TTL. An error is only
// reported: the claim then lapses with its TTL.
func (g *Guard) Abort(ctx context.Context, c *Claim) error {
	if c.Outcome != Proceed || c.token == "" {
		return nil
	}
	err := g.o.Store.Release(ctx, c.key, c.token)
	c.token = ""
	return err
}

func (g *Guard) observe(outcome string) {
	if g.o.Observer != nil {
		g.o.Observer.Idempotency(outcome)
	}
}

// Fingerprint hashes the parts of a payload that make two requests the
// same request. Parts are length-prefixed, so no two different lists of
// parts hash alike by moving bytes from one part into the next.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
