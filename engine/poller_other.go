//go:build !linux

package engine

import (
	"errors"
	"syscall"
)

// poller is Linux-only; elsewhere adapters read with a goroutine per
// connection (Conn.Poll reports false).
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("engine: no epoll on this platform") }

func (p *poller) add(*Conn, syscall.RawConn) error { return errors.New("engine: no poller") }
func (p *poller) remove(*Conn)                     {}
func (p *poller) run()                             {}
func (p *poller) stop()                            {}
