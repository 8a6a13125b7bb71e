// Package filter compiles and evaluates Protocol V2 subscription filters:
// the `filter` / `tags_filter` object of a `sockudo:subscribe`.
//
// What a subscriber can ask for (the wire rules are in sockudo-v2.md §7):
//
//   - events: a list of event names; a message passes if its event is one
//     of them (event_name_filtering.*).
//   - tags: a tree over the message's top-level `tags` map: logical
//     and/or/not nodes over leaves eq, neq, in, nin, ex, nex, sw, ew, ct and
//     the numeric gt, gte, lt, lte. An absent tag makes neq, nin and nex
//     true and every other comparison false; numeric comparisons parse both
//     sides as float64 and are false if either does not parse.
//   - expression: a JMESPath expression over the message document
//     (event, channel, data, name, userId, tags, headers, messageId,
//     streamId, serial, action); a message passes if the result is truthy.
//     HTTP publishes carry `data` as a JSON string, so `data.total` is null
//     there: expressions over data work for client events with object data.
//
// The parts are ANDed. With tag_filtering.enabled=false (Sockudo's
// default) the tags and expression are still validated at subscribe but
// ignored at delivery. A filter that does not compile is refused with an
// *Error whose text is Sockudo's, to be sent as `sockudo:error` 4000; the
// subscription is then not created.
//
// Use:
//
//  1. At subscribe, Parse(filter, tagsFilter, cfg) the raw JSON of the two
//     fields. A nil *Predicate means "no filter".
//  2. Keep one Index per channel per shard worker and Add each subscriber
//     with its predicate (nil too); Remove it on unsubscribe.
//  3. For each publish build one *Message (the view of the frame) and call
//     Index.Match(msg, deliver) in each worker that has subscribers.
//
// Cost. Index files subscribers by a tag value (or event name) that their
// filter requires, so a publish looks up candidates by the message's tag
// values and pays for the subscribers that can match, not for all of
// them; a subscriber whose whole filter is that value is delivered without
// evaluation. Filters with no required tag value or event name are grouped
// by Predicate.Key and evaluated once per distinct filter. None of the
// tag and event paths allocates. An Index is owned by one goroutine (the
// shard worker that owns the subscribers' connections) and takes no lock;
// a Message may be shared by all workers of one publish: its JMESPath
// input document is built at most once, on first need.
//
// Where this differs from Sockudo, on purpose: an explicit `"filter":null`
// counts as absent (Sockudo refuses it as a tag tree of the wrong shape);
// the detail after "Invalid tags filter shape: " and after "invalid
// JMESPath expression: " is worded by this package and the JMESPath
// library, not by serde and the Rust crate; a long event name is cut on a
// character boundary in its error (Sockudo cuts at byte 40 and can panic).
//
// This package uses only the standard library so the engine can import it;
// JMESPath comes in through the ExprCompiler port (package filter/jmes).
package filter
