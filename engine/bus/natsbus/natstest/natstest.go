// Package natstest runs an embedded NATS server (nats-server/v2, in this
// process) for a test, with the outage and recovery the bus tests need,
// as redistest does for Redis.
package natstest

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sockudo/sockudo-go/engine/internal/testproc"
)

// Server is one embedded NATS server on a fixed 127.0.0.1 port, shut down
// at cleanup.
type Server struct {
	// URL is nats://127.0.0.1:port; it stays the same across Restart.
	URL string

	t    testing.TB
	port int
	mu   sync.Mutex
	srv  *server.Server
}

// Start runs a server on a free port.
func Start(t testing.TB) *Server {
	t.Helper()
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "nats://127.0.0.1:" + strconv.Itoa(port), t: t, port: port}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Stop shuts the server down and waits for it: a bus outage.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart starts the server again on the same port, after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: s.port, NoLog: true, NoSigs: true})
	if err != nil {
		s.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(5 * time.Second) {
		s.t.Fatal("nats server did not start")
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}
