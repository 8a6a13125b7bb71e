package natsbus

import (
	"testing"

	"github.com/sockudo/sockudo-go/engine"
	"github.com/sockudo/sockudo-go/engine/bus/bustest"
	"github.com/sockudo/sockudo-go/engine/bus/natsbus/natstest"
)

func TestConformance(t *testing.T) {
	srv := natstest.Start(t)
	bustest.Run(t, bustest.Env{
		New: func(t *testing.T) engine.Bus {
			b, err := New(Options{Servers: []string{srv.URL}, Prefix: "test"})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Outage:  func(*testing.T) { srv.Stop() },
		Restore: func(*testing.T) { srv.Restart() },
	})
}

func TestSubjectTokens(t *testing.T) {
	b, _ := New(Options{Prefix: "a.b c"})
	if got := b.nodeSubject("x.y*"); got != "a_b_c.node.x_y_" {
		t.Fatalf("subject %q", got)
	}
}
