// Package shard provides lock-sharded registries for state many goroutines
// touch at once: a generic sharded map (channels, users, watchers) and the
// member set of a presence channel. Standard library only.
//
// Why shards: a node serves tens of thousands of connections whose
// subscribe, unsubscribe and presence transitions happen concurrently on
// every core; one lock would serialise them. Keys are spread over a fixed
// power-of-two number of shards by a seeded hash, each with its own mutex,
// so unrelated channels never contend. Usage:
//
//  1. m := shard.NewMap[K, V](64)
//  2. m.Update(k, func(v V, ok bool) (V, bool) { ... }) to change a value
//     atomically (fn runs under the key's shard lock: keep it short and never
//     block in it);
//  3. m.Load, m.Range, m.Len to read.
package shard
