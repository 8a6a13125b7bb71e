package httpapi

import (
	"errors"
	"io"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/httpapi/serving"
)

// Blocks a chunked request body is read into: they start small, for the
// usual event of a few hundred bytes, and double up to maxBodyBlock, so a
// body refused at the limit has cost the limit plus at most one block, not
// the repeated doubling (and copying) of a single growing buffer.
const (
	firstBodyBlock = 4 << 10
	maxBodyBlock   = 256 << 10
)

var errBodyTooLarge = errors.New("request body too large")

// readBody reads the request body, which fasthttp streams
// (StreamRequestBody), and sets it as the request's body, so that every
// later reader sees an ordinary body. It reads no more than the limit:
// a larger Content-Length is refused unread, a chunked body once it grows
// past the limit. A refusal closes the connection, lingeringly unless the
// client was too slow (see refuseBody).
func (s *Server) readBody(ctx *fasthttp.RequestCtx) *apiError {
	r := ctx.RequestBodyStream()
	if r == nil {
		return nil // no body: GET, HEAD, or none sent
	}
	n := ctx.Request.Header.ContentLength()
	var body []byte
	var err error
	switch {
	case n > s.limit:
		err = errBodyTooLarge
	case n >= 0:
		body = s.bodyBuffer(ctx, n)
		_, err = io.ReadFull(r, body)
	default: // chunked
		body, err = readChunked(r, s.limit)
	}
	if err != nil {
		return s.refuseBody(ctx, err)
	}
	ctx.Request.SetBodyRaw(body)
	return nil
}

// refuseBody answers a body that could not be read: 413 over the limit,
// 408 when the client was too slow, else 400. The connection closes after
// the answer, since what is left of the body is unread; it lingers except
// after a timeout, which would only give a slow client more of the
// server's time.
func (s *Server) refuseBody(ctx *fasthttp.RequestCtx, err error) *apiError {
	ctx.Request.ResetBody() // no one reads the rest of the stream
	ctx.SetConnectionClose()
	var nerr interface{ Timeout() bool }
	switch {
	case errors.Is(err, errBodyTooLarge):
		serving.LingerOnClose(ctx.Conn())
		return &apiError{status: http.StatusRequestEntityTooLarge, msg: "request body too large"}
	case errors.As(err, &nerr) && nerr.Timeout():
		return &apiError{status: http.StatusRequestTimeout, msg: "request timed out"}
	default:
		serving.LingerOnClose(ctx.Conn())
		return badRequest("malformed request body")
	}
}

// readChunked reads r to its end into blocks and joins them, or fails with
// errBodyTooLarge as soon as more than limit bytes arrive.
func readChunked(r io.Reader, limit int) ([]byte, error) {
	var blocks [][]byte
	total := 0
	for size := firstBodyBlock; ; size = min(2*size, maxBodyBlock) {
		// One byte past the limit tells a body at the limit from a longer one.
		b := make([]byte, min(size, limit+1-total))
		n, err := fill(r, b)
		total += n
		blocks = append(blocks, b[:n])
		if total > limit {
			return nil, errBodyTooLarge
		}
		if errors.Is(err, io.EOF) {
			return join(blocks, total), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// fill reads into b until it is full or r fails; io.EOF is returned as
// is, never turned into io.ErrUnexpectedEOF (which the stream reports for
// a truncated body).
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// join returns the blocks as one slice, the first block itself when it
// holds everything.
func join(blocks [][]byte, total int) []byte {
	if len(blocks) == 1 {
		return blocks[0]
	}
	body := make([]byte, 0, total)
	for _, b := range blocks {
		body = append(body, b...)
	}
	return body
}
