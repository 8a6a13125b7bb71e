// Package idempotency makes HTTP publishes idempotent (sockudo-v2.md §11):
// a request repeated with the same key within the key's TTL is answered
// with the first response and not published again, whichever node of a
// cluster it reaches.
//
// The Guard holds the rules (claim, bounded wait for a request in flight,
// payload fingerprint check, commit, release on failure); a Store keeps
// the entries. MemoryStore serves one node; the redisidem subpackage
// shares the entries between nodes through Redis.
package idempotency
