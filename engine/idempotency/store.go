package idempotency

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable wraps every store failure: the Guard then cannot tell a
// duplicate from a first request, and callers refuse (fail closed) rather
// than risk publishing twice.
var ErrUnavailable = errors.New("idempotency store unavailable")

// Entry is what a Store keeps under a key.
type Entry struct {
	// Fingerprint identifies the payload the key was first used with.
	Fingerprint string
	// Pending is true while the first request is still being answered.
	Pending bool
	// Status and Body are the first response, once committed.
	Status int
	Body   []byte
}

// Store keeps entries for a while. Implementations must be safe for
// concurrent use; in a cluster every node must see the same entries, or a
// duplicate sent to another node is published again.
type Store interface {
	// Claim keeps a pending entry with fingerprint under key for ttl
	// unless key holds an entry; it returns the claim's token and true,
	// or the entry present and false.
	Claim(ctx context.Context, key, fingerprint string, ttl time.Duration) (token string, present Entry, claimed bool, err error)
	// Commit replaces the pending entry of the claim token by e, kept for
	// ttl. An entry that is no longer that claim (it expired, another
	// request claimed the key since) is left alone.
	Commit(ctx context.Context, key, token string, e Entry, ttl time.Duration) error
	// Release deletes the pending entry of the claim token, so that the
	// key may be used again after a publish that failed.
	Release(ctx context.Context, key, token string) error
}
