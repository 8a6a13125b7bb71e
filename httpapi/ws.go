package httpapi

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/protocol"
)

// Upgrader buffer sizes. The upgrader's Conn is never used for I/O (the
// engine frames bytes itself), yet it allocates a reader of this size per
// connection, so it is kept near the 125-byte minimum; a pooled write
// buffer is only touched if something writes through that Conn.
const (
	upgraderReadBufferSize  = 256
	upgraderWriteBufferSize = 256
)

func newUpgrader() websocket.FastHTTPUpgrader {
	return websocket.FastHTTPUpgrader{
		ReadBufferSize:  upgraderReadBufferSize,
		WriteBufferSize: upgraderWriteBufferSize,
		WriteBufferPool: &sync.Pool{},
		// Origins are checked per app by the engine, which answers with
		// pusher:error 4009 as Pusher does, not with an HTTP 403.
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
		Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
			ctx.Response.Header.Set("Sec-WebSocket-Version", "13")
			writeError(ctx, status, reason.Error())
		},
	}
}

// upgrade serves GET /app/{key}: it refuses while draining (503, so the
// client retries on another node), copies what the engine needs out of the
// request (the RequestCtx must not be used after the hijack) and upgrades.
func (s *Server) upgrade(ctx *fasthttp.RequestCtx) {
	if s.eng.Draining() {
		writeError(ctx, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	key, _ := pathParam(ctx, "key")
	req := engine.ConnectRequest{
		AppKey:     key,
		Protocol:   string(ctx.QueryArgs().Peek("protocol")),
		Origin:     string(ctx.Request.Header.Peek("Origin")),
		RemoteAddr: ctx.RemoteAddr().String(),
	}
	if req.Protocol == protocol.ProtocolV2 && !s.negotiateV2(ctx, &req) {
		return
	}
	// On a handshake error the upgrader has already answered through
	// newUpgrader's Error hook.
	if err := s.upgrader.Upgrade(ctx, func(ws *websocket.Conn) {
		s.serveSocket(req, ws.NetConn(), nil)
	}); err != nil {
		return
	}
	// Not for TLS (no descriptor to own) nor HTTP/1.0, for which fasthttp
	// adds a keep-alive header when it writes the response itself.
	if s.pollReads && canOwnDescriptors && !ctx.IsTLS() && ctx.Request.Header.IsHTTP11() &&
		ctx.Response.StatusCode() == fasthttp.StatusSwitchingProtocols {
		s.deferHandshakeResponse(ctx, req)
	}
}

// deferHandshakeResponse leaves the 101 response to the socket's transport
// instead of fasthttp, which would write it alone before the hijack: the
// engine's first frame (connection_established, or a refusal) then
// carries it, one system call and one wake-up of the client per
// connection instead of two. The bytes are fasthttp's own, taken from the
// response the upgrader prepared, so the handshake is unchanged on the
// wire. The upgrader's hijack handler is replaced as well: it built a
// websocket.Conn, with its buffers, only to hand over the net.Conn.
func (s *Server) deferHandshakeResponse(ctx *fasthttp.RequestCtx, req engine.ConnectRequest) {
	head := ctx.Response.Header.AppendBytes(nil)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(nc net.Conn) {
		_ = nc.SetDeadline(time.Time{}) // the HTTP server's, as the upgrader clears them
		s.serveSocket(req, nc, head)
	})
}

// serveSocket runs on fasthttp's hijack goroutine. It hands the socket to
// the engine and reads it until the connection ends. fasthttp leaves the
// socket open when this returns (KeepHijackedConns): the engine closes it
// through the transport.
//
// When the engine polls, the transport owns a duplicate of the descriptor
// and the original (with the net.Conn state around it) is closed once the
// bytes fasthttp buffered are fed, so an idle connection keeps only the
// duplicate.
//
// head, when not nil, is the handshake's 101 response, still to be written
// (deferHandshakeResponse).
func (s *Server) serveSocket(req engine.ConnectRequest, nc net.Conn, head []byte) {
	var t engine.Transport
	owned := false
	if s.pollReads && canOwnDescriptors {
		if ft, ok := newFDTransport(nc, s.writeTimeout, &s.iovs); ok {
			ft.deferHead(head)
			t, owned = ft, true
		}
	}
	if !owned {
		tr := newTransport(nc, s.writeTimeout, &s.iovs)
		if head != nil && tr.Write(head) != nil {
			_ = nc.Close()
			return
		}
		t = tr
	}
	c, err := s.eng.Connect(req, t)
	if err != nil {
		// Refused: the engine has sent pusher:error, the close frame, and
		// closed the socket (the duplicate; the original goes below).
		if owned {
			_ = underlying(nc).Close()
		}
		return
	}
	if s.pollReads && drainBuffered(c, nc, &s.drainBufs) && c.Poll() {
		if owned {
			_ = underlying(nc).Close()
		}
		return
	}
	if owned {
		// The engine is closing c (the drain or the poller refused it):
		// the original must not keep the socket open behind it.
		_ = underlying(nc).Close()
		c.Gone(errNotPolled)
		return
	}
	readLoop(c, nc)
}

// errNotPolled ends a connection the engine would not poll after its
// descriptor was handed over.
var errNotPolled = errors.New("httpapi: socket not polled")
