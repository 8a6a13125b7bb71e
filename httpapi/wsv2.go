package httpapi

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// negotiateV2 checks the query parameters of a protocol=2 upgrade before
// the upgrade, as Sockudo does: an unknown or not yet served format and an
// echo_messages other than true/false answer HTTP 400 with a JSON body.
// V1 connections ignore both parameters, as before V2 existed.
func (s *Server) negotiateV2(ctx *fasthttp.RequestCtx, req *engine.ConnectRequest) bool {
	q := ctx.QueryArgs()
	if _, err := protocol.ParseWireFormat(string(q.Peek("format"))); err != nil {
		writeError(ctx, http.StatusBadRequest, err.Error())
		return false
	}
	echo := string(q.Peek("echo_messages"))
	if _, err := protocol.ParseEchoMessages(echo, true); err != nil {
		writeError(ctx, http.StatusBadRequest, err.Error())
		return false
	}
	req.EchoMessages = echo
	return true
}
