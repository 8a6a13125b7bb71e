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
// maxKeptBody and returns a pooled one (readBody). Everything that reads
// the body, the Observer included, has run by then, and nothing keeps it:
// the decoders copy what they keep.
func (s *Server) dropLargeBody(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		next(ctx)
		s.releaseBody(ctx)
		ctx.Request.ReleaseBody(maxKeptBody)
	}
}

// pooledBody is the user-value key of a request body read into a pooled
// buffer.
type pooledBody struct{}

// bodyBuffer returns a buffer of n bytes for a request body: pooled when
// n is at most maxKeptBody (every publish), the caller then owning it
// until releaseBody, else a new one left to the collector.
func (s *Server) bodyBuffer(ctx *fasthttp.RequestCtx, n int) []byte {
	if n > maxKeptBody {
		return make([]byte, n)
	}
	p, _ := s.bodies.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	if cap(*p) < n {
		*p = make([]byte, n, max(n, 1<<10))
	}
	*p = (*p)[:n]
	ctx.SetUserValue(pooledBody{}, p)
	return *p
}

// releaseBody detaches a pooled body from the request and pools it.
func (s *Server) releaseBody(ctx *fasthttp.RequestCtx) {
	p, ok := ctx.UserValue(pooledBody{}).(*[]byte)
	if !ok {
		return
	}
	ctx.RemoveUserValue(pooledBody{})
	ctx.Request.ResetBody()
	s.bodies.Put(p)
}
