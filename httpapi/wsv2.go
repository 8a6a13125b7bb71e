package httpapi

import (
	"errors"
	"net/http"

	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// negotiateV2 checks the query parameters of a protocol=2 upgrade before
// the upgrade, as Sockudo does: an unknown format (or one whose codec is
// not wired) and an echo_messages other than true/false answer HTTP 400
// with a JSON body. V1 connections ignore both parameters, as before V2
// existed: they always speak JSON.
func (s *Server) negotiateV2(ctx *fasthttp.RequestCtx, req *engine.ConnectRequest) bool {
	q := ctx.QueryArgs()
	format, err := protocol.ParseWireFormat(string(q.Peek("format")))
	if err == nil && !s.eng.ServesFormat(format) {
		err = errors.New("wire format " + format.String() + " is not served by this server: use json")
	}
	if err != nil {
		writeError(ctx, http.StatusBadRequest, err.Error())
		return false
	}
	req.Format = format
	echo := string(q.Peek("echo_messages"))
	if _, err := protocol.ParseEchoMessages(echo, true); err != nil {
		writeError(ctx, http.StatusBadRequest, err.Error())
		return false
	}
	req.EchoMessages = echo
	return true
}
