//go:build !linux

package httpapi

// canOwnDescriptors: without epoll the engine does not poll sockets, and
// a bare descriptor could not be read.
const canOwnDescriptors = false
