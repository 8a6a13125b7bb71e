package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/goccy/go-json"
	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// apiError is a refusal with its HTTP status. Handlers return it instead of
// writing the response themselves, so every error body has the one shape
// {"error": "<message>", "code": <status>} (pusher-protocol.md §5.10).
type apiError struct {
	status int
	msg    string
	// code, when set, replaces the numeric code with Sockudo's string
	// code ("backpressure", "service_unavailable"), which its SDKs read.
	code string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) *apiError { return &apiError{status: http.StatusBadRequest, msg: msg} }

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}

// writeError answers status with the JSON error body.
func writeError(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, errorBody{Error: msg, Code: status})
}

// writeAPIError answers with aerr's status and body.
func writeAPIError(ctx *fasthttp.RequestCtx, aerr *apiError) {
	if aerr.code == "" {
		writeError(ctx, aerr.status, aerr.msg)
		return
	}
	writeJSON(ctx, aerr.status, struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{aerr.msg, aerr.code})
}

// writeJSON answers status with v encoded as JSON. Encoding our own response
// types cannot fail; if it ever does, the client still gets a JSON 500.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"cannot encode the response","code":500}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// writeEmpty answers 200 with {}: the official Go SDK unmarshals every
// success body, so an empty one would fail there.
func writeEmpty(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(http.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBodyString("{}")
}

// storeRetryAfter is the Retry-After (seconds) of a 503 for an app store
// outage: long enough for the store to reconnect to its database, short
// enough that an SDK's retry helps.
const storeRetryAfter = "5"

// lookupError maps a failed AppByID: 404 for an unknown app, 503 with
// Retry-After when the store could not answer — the app may exist, so a
// 404 would be a lie the caller might act on.
func (s *Server) lookupError(ctx *fasthttp.RequestCtx, err error) *apiError {
	if errors.Is(err, engine.ErrAppNotFound) {
		return &apiError{status: http.StatusNotFound, msg: "app not found"}
	}
	if n, ok := s.storeErrLog.Due(time.Now()); ok {
		s.log.Warn("app store lookup failed: API requests answered 503", "err", err, "refused_since_last_log", n)
	}
	ctx.Response.Header.Set("Retry-After", storeRetryAfter)
	return &apiError{status: http.StatusServiceUnavailable, msg: "app store unavailable, retry later"}
}

// engineError maps an error returned by the engine to an HTTP refusal.
func engineError(err error) *apiError {
	var pe *protocol.Error
	switch {
	case errors.Is(err, engine.ErrDraining):
		return &apiError{status: http.StatusServiceUnavailable, msg: "server is shutting down"}
	case errors.Is(err, engine.ErrAppNotFound):
		return &apiError{status: http.StatusNotFound, msg: "app not found"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &apiError{status: http.StatusServiceUnavailable, msg: "request timed out"}
	case errors.As(err, &pe):
		return badRequest(pe.Message)
	default:
		return &apiError{status: http.StatusInternalServerError, msg: "internal error"}
	}
}

// parseErrorStatus maps a fasthttp request-parsing error (reported through
// Server.ErrorHandler, before any route runs) to its status.
func parseErrorStatus(err error) (int, string) {
	var small *fasthttp.ErrSmallBuffer
	var nerr interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge, "request body too large"
	case errors.As(err, &small):
		return http.StatusRequestHeaderFieldsTooLarge, "request headers too large"
	case errors.As(err, &nerr) && nerr.Timeout():
		return http.StatusRequestTimeout, "request timed out"
	default:
		return http.StatusBadRequest, "malformed request"
	}
}
