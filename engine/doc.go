// Package engine is the Pusher server core: apps, the connection lifecycle,
// subscriptions, presence, client events, signin, watchlists, cache
// channels and the fan-out of published events.
//
// It imports only protocol, shard and the standard library. Everything
// that touches the outside world is a port declared here and implemented
// by an adapter: Transport (a connection's byte pipe), AppStore (app
// lookup), and Hooks (webhook events). Usage:
//
//  1. Build an Engine with New(Options); it starts one worker per shard.
//  2. For each upgraded WebSocket call Connect with a Transport; feed the
//     bytes read from the socket to Conn.Feed and report the end of the
//     stream with Conn.Gone.
//  3. Serve the HTTP API with Publish, Channel, Channels, PresenceUsers and
//     TerminateUser.
//  4. When an app changes in its store (a reload, a database row), call
//     AppChanged or AppRemoved: open connections follow at once.
//  5. Call Shutdown to close every connection with 4200 and stop the workers.
//
// Concurrency: every connection is owned by one worker, which alone writes
// to its socket. A publish is encoded once and handed to each worker as one
// reference; the worker appends it to each of its subscribers' pending
// writes and flushes each connection with one vectored write. Lock order:
// shard.Registry channel shard → worker.subMu → worker.mu (inbox); Conn.mu
// is never held while taking any of them.
package engine
