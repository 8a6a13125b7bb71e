package main

import "syscall"

// soReusePort is SO_REUSEPORT on Linux (asm-generic/socket.h); the syscall
// package does not name it.
const soReusePort = 0xf

// setReusePort lets several processes bind the same port; the kernel then
// spreads new connections over them (one node per process on one host).
func setReusePort(c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
	}); err != nil {
		return err
	}
	return serr
}
