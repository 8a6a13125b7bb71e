//go:build !linux

package main

import (
	"errors"
	"syscall"
)

func setReusePort(syscall.RawConn) error {
	return errors.New("--reuse-port is supported on Linux only")
}
