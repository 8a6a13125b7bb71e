// Package expose is the observability adapter: the node's Prometheus
// metrics, served with /up and /ready on their own listener (default port
// 9601), and the observer the other layers report measurements to.
//
// It imports engine and reads its counters only at scrape time
// (AppSnapshot, NodeSnapshot), so the engine's hot path stays plain atomic
// adds. Every metric lives in a metrics.Set owned by the Server; nothing is
// package-global, and several Servers may run in one process. Usage:
//
//  1. Build a Server with New(Options), listing every configured app in
//     AppIDs so each per-app series exists, at zero, from start-up.
//  2. Build the engine with the Server as engine.Options.Observer, then
//     call Attach(engine) (or pass Options.Engine when no observer is
//     needed).
//  3. Pass the Server as the httpapi adapter's Observer; later adapters
//     (webhook queue, horizontal adapter, rate limiters) take it through
//     their own small observer interfaces (see ports.go).
//  4. Serve(listener) in a goroutine; Shutdown(ctx) stops it.
//
// MONITORING.md documents every metric, the Prometheus job, the alert
// rules and the Grafana dashboard shipped under configs/.
package expose
