package natsbus

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/bus/bustest"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runServer starts an embedded NATS server on port.
func runServer(t *testing.T, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats server did not start")
	}
	return s
}

func TestConformance(t *testing.T) {
	port := freePort(t)
	srv := runServer(t, port)
	t.Cleanup(func() { srv.Shutdown() })
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	bustest.Run(t, bustest.Env{
		New: func(t *testing.T) engine.Bus {
			b, err := New(Options{Servers: []string{url}, Prefix: "test"})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Outage:  func(t *testing.T) { srv.Shutdown(); srv.WaitForShutdown() },
		Restore: func(t *testing.T) { srv = runServer(t, port) },
	})
}

func TestSubjectTokens(t *testing.T) {
	b, _ := New(Options{Prefix: "a.b c"})
	if got := b.nodeSubject("x.y*"); got != "a_b_c.node.x_y_" {
		t.Fatalf("subject %q", got)
	}
}
