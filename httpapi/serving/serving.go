// Package serving runs a fasthttp.Server on the listeners handed to it
// and shuts it down without leaving one open, closes the connections of
// refused requests lingeringly (LingerOnClose), and routes fasthttp's
// logging to slog. The API server, the metrics server and the https
// redirect listener share it.
package serving

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/valyala/fasthttp"
)

// ErrShutDown is returned by Serve after Shutdown.
var ErrShutDown = errors.New("server is shut down")

// Server serves one fasthttp.Server on any number of listeners. Safe for
// concurrent use.
type Server struct {
	srv *fasthttp.Server
	tls *tls.Config // nil: plain TCP

	mu     sync.Mutex
	closed bool
	lns    []net.Listener

	lingerBufs sync.Pool // drain buffers of lingering closes
}

// New wraps srv; with tlsConfig, every listener is served over TLS.
func New(srv *fasthttp.Server, tlsConfig *tls.Config) *Server {
	return &Server{srv: srv, tls: tlsConfig}
}

// Serve accepts connections on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrShutDown
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	// Wrapped after recording ln: Shutdown closes the TCP listener. The
	// lingering close works on the TCP connection, under TLS.
	ln = lingerListener{Listener: ln, bufs: &s.lingerBufs}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	err := s.srv.Serve(ln)
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	return err
}

// Shutdown closes the listeners and waits, until ctx ends, for the
// requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	s.lns = nil
	s.mu.Unlock()
	// Closing the listeners ourselves covers a Serve that has not yet
	// handed its listener to fasthttp, which its Shutdown would not see.
	for _, ln := range lns {
		_ = ln.Close()
	}
	err := s.srv.ShutdownWithContext(ctx)
	if errors.Is(err, net.ErrClosed) {
		err = nil // we closed the listeners first
	}
	return err
}

// Logger returns a fasthttp.Logger writing warnings to l, each prefixed
// with prefix, so nothing goes through the standard library's default
// logger.
func Logger(l *slog.Logger, prefix string) fasthttp.Logger { return printfLogger{l, prefix} }

type printfLogger struct {
	l      *slog.Logger
	prefix string
}

func (p printfLogger) Printf(format string, args ...any) {
	p.l.Warn(p.prefix + fmt.Sprintf(format, args...))
}
