// Package webhook delivers Pusher webhooks: it implements engine.Hooks,
// filters events per target (event_types, channel prefix, suffix, pattern
// and namespace), holds channel_vacated and member_removed for a few
// seconds (a quick re-join cancels them and the matching occupied /
// member_added), batches one target's events into one POST, signs it
// (X-Pusher-Key, X-Pusher-Signature) and delivers it with retries
// (exponential backoff with jitter within a time budget) from a Queue.
//
// Usage:
//
//  1. Build a Queue: NewMemoryQueue (bounded, in process) or
//     redisqueue.New (durable, shared by every node). For queue.driver
//     "none" build no Sender at all and give the engine nil Hooks.
//  2. s, err := New(Options{Targets: ..., Queue: q, ...}); pass s as
//     engine.Options.Hooks.
//  3. s.Start() launches the delivery workers.
//  4. s.Shutdown(ctx) after the engine has shut down: held and batched
//     events are queued, a memory queue is drained within ctx.
//
// Ordering: jobs carry a key (app id and URL); a Queue hands out one job
// per key at a time, in order, and keeps a failed job at the head of its
// key while it backs off. So one app's POSTs to one URL arrive in the
// order the events happened, retries included (an occupied is never
// delivered after the vacated that followed it).
//
// Concurrency: Webhook is called from the engine's goroutines and never
// blocks: it takes one target's batch lock (or one delay-table stripe)
// and hands finished jobs to a bounded buffer; a single writer goroutine
// moves them to the Queue and Options.Concurrency workers deliver them.
// Lock order: delay stripe → batch. Several Senders may run in one
// process.
package webhook
