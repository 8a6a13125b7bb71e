package httpapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// apiHandler serves one /apps/{app_id} route once the app is known and the
// request signature checked. A non-nil error is the response.
type apiHandler func(ctx *fasthttp.RequestCtx, app *engine.App) *apiError

// signed resolves the app of the path, refuses unknown (404) and disabled
// (403) apps, verifies the request signature (401, pusher-protocol.md §2.3)
// and then runs h. The order matters: a caller with a wrong app id learns
// that before anything about its credentials.
func (s *Server) signed(h apiHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		app, aerr := s.authorize(ctx)
		if aerr == nil {
			aerr = h(ctx, app)
		}
		if aerr != nil {
			writeAPIError(ctx, aerr)
		}
	}
}

// authorize returns the app of a signed /apps request or why it is refused.
func (s *Server) authorize(ctx *fasthttp.RequestCtx) (*engine.App, *apiError) {
	id, ok := pathParam(ctx, "app_id")
	if !ok {
		return nil, &apiError{status: http.StatusNotFound, msg: "app not found"}
	}
	app, err := s.apps.AppByID(id)
	if err != nil {
		return nil, s.lookupError(ctx, err)
	}
	ctx.SetUserValue(requestApp{}, app)
	if !app.Enabled {
		return nil, &apiError{status: http.StatusForbidden, msg: "app is disabled"}
	}
	// The path is signed as the client sent it, before any decoding, and
	// the query is read raw: url.Values would drop pairs containing ';'.
	err = protocol.VerifyRequestBytes(
		ctx.Method(),
		ctx.Request.URI().PathOriginal(),
		ctx.URI().QueryString(),
		ctx.PostBody(),
		app.Key, app.Secret, time.Now())
	if err != nil {
		return nil, &apiError{status: http.StatusUnauthorized, msg: err.Error()}
	}
	return app, nil
}

// pathParam returns the percent-decoded router parameter name. The router
// matches the raw path, so its parameters are still escaped.
func pathParam(ctx *fasthttp.RequestCtx, name string) (string, bool) {
	raw, _ := ctx.UserValue(name).(string)
	v, err := url.PathUnescape(raw)
	if err != nil || v == "" {
		return "", false
	}
	return v, true
}

// queryValue returns the URL-decoded query parameter key ("" when absent).
func queryValue(ctx *fasthttp.RequestCtx, key string) string {
	v, _ := protocol.QueryValue(string(ctx.URI().QueryString()), key)
	return v
}
