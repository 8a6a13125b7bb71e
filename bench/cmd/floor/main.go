// Command floor measures this machine's CPU µs per small loopback write
// (one frame to each of 10,000 sockets per round): the fan-out floor.
package main

import (
	"os"

	"github.com/sockudo/sockudo-go/bench/internal/floor"
)

func main() {
	os.Exit(floor.Main(os.Args[1:], nil, os.Stdout, os.Stderr))
}
