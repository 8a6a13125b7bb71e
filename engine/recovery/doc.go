// Package recovery is the hot tier of Sockudo protocol V2 connection
// recovery: a per-channel replay buffer that assigns each channel a
// stream id and consecutive serials and keeps its last messages for a
// while, so a client that lost its connection can be sent exactly what it
// missed (sockudo-v2.md §8). It implements engine.ReplayBuffer and uses
// only the standard library and protocol.
package recovery
