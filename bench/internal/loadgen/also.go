package loadgen

import (
	"bytes"
	"fmt"
	"net"

	"github.com/sockudo/sockudo-go/bench/internal/wire"
)

// awaitAlso writes both subscribe frames (the connection's own channel and
// -also-channel) in one write and waits until the server confirmed both,
// in either order: one round trip per connection, as a client that joins
// two channels at once does.
func (g *localGroup) awaitAlso(nc net.Conn, frames []byte, own string, next func() (byte, []byte, error)) error {
	if _, err := nc.Write(frames); err != nil {
		return fmt.Errorf("subscribe write: %w", err)
	}
	ownQ, alsoQ := []byte(`"`+own+`"`), []byte(`"`+g.cfg.AlsoChannel+`"`)
	gotOwn, gotAlso := false, false
	for !gotOwn || !gotAlso {
		op, pl, err := next()
		if err != nil {
			return fmt.Errorf("waiting for subscription_succeeded: %w", err)
		}
		if op == wire.OpClose {
			return fmt.Errorf("closed before subscription_succeeded: %s", closeDesc(pl))
		}
		if op != wire.OpText {
			continue
		}
		ev := string(wire.Event(pl))
		if ev == "pusher:error" || ev == "pusher:subscription_error" {
			return fmt.Errorf("%s: %.120s", ev, pl)
		}
		if ev != "pusher_internal:subscription_succeeded" {
			continue
		}
		gotOwn = gotOwn || bytes.Contains(pl, ownQ)
		gotAlso = gotAlso || bytes.Contains(pl, alsoQ)
	}
	return nil
}
