package httpapi

import "github.com/valyala/fasthttp"

// maxKeptBody is the largest request body buffer a connection keeps for
// its next request. fasthttp keeps each keep-alive connection's body
// buffer at the size of its largest request so far, for as long as the
// connection lives: 50 idle publishers that once sent a 1 MB batch would
// pin 50 MB. A single event at the default 10 KB payload limit fits; a
// larger body gets a fresh buffer, left to the collector after the request.
const maxKeptBody = 64 << 10

// dropLargeBody runs next, then lets go of a body buffer above
// maxKeptBody. Everything that reads the body, the Observer included, has
// run by then.
func dropLargeBody(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		next(ctx)
		ctx.Request.ReleaseBody(maxKeptBody)
	}
}
