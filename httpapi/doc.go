// Package httpapi is the HTTP side of the server: the WebSocket upgrade on
// GET /app/{key} and the signed Pusher REST API on the same port, over
// fasthttp, fasthttp/router and fasthttp/websocket. It adapts the network
// to the engine and holds no Pusher logic of its own beyond request
// validation. Usage:
//
//  1. Build the engine, then a Server with New(Options{Engine, Apps, ...}).
//  2. Call Serve with a listener; it returns nil after Shutdown.
//  3. To stop: engine.Shutdown (upgrades and /ready answer 503 from the
//     moment it starts, sockets close with 4200), then Server.Shutdown to
//     close the listener and wait for in-flight HTTP requests.
//
// Routes:
//
//	GET  /app/{key}                                            WebSocket upgrade
//	POST /apps/{app_id}/events                                 publish
//	POST /apps/{app_id}/batch_events                           publish several
//	GET  /apps/{app_id}/channels                               occupied channels
//	GET  /apps/{app_id}/channels/{channel_name}                one channel
//	GET  /apps/{app_id}/channels/{channel_name}/users          presence members
//	POST /apps/{app_id}/users/{user_id}/terminate_connections  disconnect a user
//	GET  /up, /up/{app_id}, /live, /ready, /usage              health, unsigned
//
// Every /apps route answers JSON: 200 with at least {}, errors as
// {"error": "<message>", "code": <status>}.
//
// Edge: per-IP and per-app rate limits (limit.go, ratelimit.go), CORS
// (cors.go), TLS with certificate reload (tls.go) and request-size limits
// are Options; EDGE.md is the operator's guide.
//
// Sockets: after the upgrade fasthttp keeps the connection open
// (KeepHijackedConns); the engine owns it through a Transport that writes
// with non-blocking writev(2); the engine's epoll poller reads it, or, for
// sockets without a descriptor (TLS), one goroutine each (readloop.go).
package httpapi
